import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import pino from 'pino';
import { createConnection } from 'mysql2/promise';
import { startService, type RunningService } from '@co/service-kit';
import { deleteStreams, eventually, MYSQL_URL, NATS_URL, uniqueName, withEnvironment } from '../../../test/support/infra';
import { REPO_ROOT } from '../../../test/support/processes';
import { testServiceConfig } from '../../../test/support/services';
import { logarithmService } from '../src/logarithm.service';
import { ACME, startLogarithm, type TestLogarithm } from './support/logarithm';

type Unary = (request: object, callback: (error: grpc.ServiceError | null, response: any) => void) => void;

const SECRET = 's3cr3t-Value-0f-the-run';
const PASSWORD = 'hunter2hunter2';
const PEM = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END KEY-----';
const PEM_LINE = 'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu';

/**
 * A logarithm of its own (its log captured, its masks kept until the run ends: 0 hours),
 * beside the test logarithm whose crew and users it borrows.
 */
describe('logarithm: masking secrets', () => {
  let shared: TestLogarithm;
  let service: RunningService;
  let nats: NatsConnection;
  let cleanup: () => Promise<void>;
  let config: Awaited<ReturnType<typeof testServiceConfig>>['config'];
  let env: Record<string, string>;
  const prefix = uniqueName('t');
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-logarithm-masks-'));
  const logLines: string[] = [];
  const logger = pino(
    { level: 'debug', base: { service: 'logarithm' }, messageKey: 'msg' },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    }),
  );
  let clock = BigInt(Date.now()) * 1_000_000n;

  const start = () => withEnvironment(env, () => startService(logarithmService, config, { logger }));

  function client(): grpc.Client & { registerRunMasks: Unary } {
    const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/containerops/logarithm/v1/logarithm.proto'), { keepCase: false, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    return new loaded.containerops.logarithm.v1.LogMaskService(service.grpcAddress, grpc.credentials.createInsecure());
  }

  function register(request: { org: string; project: string; run: string; values: string[] }): Promise<{ values: number }> {
    const stub = client();
    return new Promise((resolve, reject) =>
      stub.registerRunMasks(request, (error, response) => {
        stub.close();
        if (error) reject(error);
        else resolve(response);
      }),
    );
  }

  async function push(run: string, texts: string[]) {
    const values = texts.map((text) => [String((clock += 1000n)), text]);
    const response = await fetch(`${service.httpUrl}/api/v1/logs/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shared.users.acmeAdmin.token}` },
      body: JSON.stringify({ streams: [{ stream: { org: ACME.org, project: ACME.project, run, task: 'deploy.push', stream: 'stdout' }, values }] }),
    });
    if (response.status !== 204) throw new Error(`push answered ${response.status} ${await response.text()}`);
  }

  /** The run's stored lines, as the query endpoint answers them. */
  async function stored(run: string): Promise<string[]> {
    const response = await fetch(`${service.httpUrl}/api/v1/runs/${run}/logs`, { headers: { authorization: `Bearer ${shared.users.acmeViewer.token}` } });
    const body = (await response.json()) as { lines: { text: string }[] };
    if (response.status !== 200) throw new Error(`query answered ${response.status} ${JSON.stringify(body)}`);
    return body.lines.map((line) => line.text);
  }

  /** What a live tail of the run sends, up to `count` lines. */
  async function tailed(run: string, count: number): Promise<string[]> {
    const controller = new AbortController();
    const response = await fetch(`${service.httpUrl}/api/v1/runs/${run}/logs/stream`, {
      headers: { authorization: `Bearer ${shared.users.acmeViewer.token}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const found: string[] = [];
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const line of buffer.split('\n')) if (line.startsWith('data: ')) found.push(JSON.parse(line.slice(6)).text);
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      if (found.length >= count) break;
    }
    controller.abort();
    return found;
  }

  async function publishRunEvent(streamId: string, type: string, data: Record<string, unknown>) {
    const id = randomUUID();
    const envelope = { position: 1, id, streamId, streamVersion: 1, type, schemaVersion: 1, data, metadata: {}, service: 'pilotage', occurredAt: new Date().toISOString() };
    const headers = natsHeaders();
    headers.set('Co-Event-Type', type);
    await nats.jetstream().publish(`${prefix}.pilotage.run.${type}`, new TextEncoder().encode(JSON.stringify(envelope)), { msgID: id, headers });
  }

  beforeAll(async () => {
    shared = await startLogarithm();
    nats = await connect({ servers: NATS_URL });
    const configured = await testServiceConfig('logarithm', 'distributed', { CO_SUBJECT_PREFIX: prefix, CO_LOG_LEVEL: 'debug' });
    config = configured.config;
    cleanup = configured.cleanup;
    env = { ...shared.crew.env, CO_AUTHZ_CACHE_SECONDS: '0', CO_LOGARITHM_STORAGE_DIR: storageDir, CO_LOGARITHM_MASK_RETAIN_HOURS: '0' };
    service = await start();
  });

  afterAll(async () => {
    await service?.close();
    await cleanup?.();
    rmSync(storageDir, { recursive: true, force: true });
    await nats?.close();
    await deleteStreams(prefix).catch(() => undefined);
    await shared?.close();
  });

  it('replaces registered values by *** in stored and tailed lines, and keeps them across a restart', async () => {
    const run = randomUUID();
    await expect(register({ org: ACME.org, project: ACME.project, run, values: [SECRET, PASSWORD] })).resolves.toEqual({ values: 2 });
    // Registering again adds what is new only.
    await expect(register({ org: ACME.org, project: ACME.project, run, values: [PASSWORD, PEM] })).resolves.toEqual({ values: 3 });
    await push(run, [`token=${SECRET}`, `login with ${PASSWORD} and ${PASSWORD}!`, 'nothing to hide', PEM_LINE, `prefix-${SECRET}-suffix`]);
    const expected = ['token=***', 'login with *** and ***!', 'nothing to hide', '***', 'prefix-***-suffix'];
    expect(await stored(run)).toEqual(expected);
    expect(await tailed(run, expected.length)).toEqual(expected);
    // Another run's lines are left alone.
    const other = randomUUID();
    await push(other, [`token=${SECRET}`]);
    expect(await stored(other)).toEqual([`token=${SECRET}`]);

    // Kept encrypted: the database never holds a value in clear.
    const db = await createConnection(`${MYSQL_URL.replace(/\/+$/, '')}/${new URL(config.dbUrl).pathname.slice(1)}`);
    try {
      const [rows] = await db.query('SELECT * FROM logarithm_run_masks WHERE run_id = ?', [run]);
      const dump = JSON.stringify(rows);
      expect((rows as unknown[]).length).toBe(1);
      for (const value of [SECRET, PASSWORD, PEM_LINE, Buffer.from(SECRET).toString('base64')]) expect(dump).not.toContain(value);
    } finally {
      await db.end();
    }

    await service.close();
    service = await start();
    await push(run, [`after the restart: ${SECRET}`]);
    expect((await stored(run)).slice(-1)).toEqual(['after the restart: ***']);
  });

  it('refuses values too short, too long or too many, saying which without showing it', async () => {
    const run = randomUUID();
    const refusal = (values: string[]) => register({ org: ACME.org, project: ACME.project, run, values }).then(() => undefined, (error: grpc.ServiceError) => error);
    const short = await refusal(['long-enough-value', 'abc']);
    expect(short?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(short?.metadata.get('error-code')).toEqual(['LOGS.INVALID_MASK']);
    expect(short?.details).toMatch(/Value 2 of 2 is shorter than 4 characters/);
    expect(short?.details).not.toContain('abc');
    const long = await refusal(['x'.repeat(4097)]);
    expect(long?.metadata.get('error-code')).toEqual(['LOGS.INVALID_MASK']);
    const many = await refusal(Array.from({ length: 101 }, (_, i) => `value-${i}`));
    expect(many?.metadata.get('error-code')).toEqual(['LOGS.INVALID_MASK']);
    // Refused as a whole: nothing of the first request was kept.
    await push(run, ['long-enough-value']);
    expect(await stored(run)).toEqual(['long-enough-value']);
    const missing = await refusal([]);
    expect(missing?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const badRun = await register({ org: ACME.org, project: '', run: 'not a run id', values: ['long-enough-value'] }).then(() => undefined, (error: grpc.ServiceError) => error);
    expect(badRun?.metadata.get('error-code')).toEqual(['REQUEST.INVALID']);
  });

  it('drops a run’s masks after its end (here at once), and refuses masks for another project of a known run', async () => {
    const run = randomUUID();
    const streamId = `run-${randomUUID()}.1`;
    await publishRunEvent(streamId, 'RunRequested', { runId: run, workflowId: 'wf', workflowName: 'deploy', project: `${ACME.org}/${ACME.project}`, number: 1 });
    await register({ org: ACME.org, project: ACME.project, run, values: [SECRET] });
    const mismatch = await register({ org: 'globex', project: 'ops', run, values: [PASSWORD] }).then(() => undefined, (error: grpc.ServiceError) => error);
    expect(mismatch?.metadata.get('error-code')).toEqual(['LOGS.MASK_RUN_MISMATCH']);
    await push(run, [`during: ${SECRET}`]);
    await publishRunEvent(streamId, 'RunSucceeded', { at: new Date().toISOString() });
    await eventually(async () => logLines.some((line) => line.includes('masks of ended runs dropped')), 15_000, 'masks dropped');
    await push(run, [`after: ${SECRET}`]);
    expect(await stored(run)).toEqual(['during: ***', `after: ${SECRET}`]);
  });

  it('never writes a registered value to its own log', () => {
    expect(logLines.some((line) => line.includes('run masks registered'))).toBe(true);
    for (const value of [SECRET, PASSWORD, PEM_LINE]) {
      expect(logLines.filter((line) => line.includes(value))).toEqual([]);
    }
  });
});
