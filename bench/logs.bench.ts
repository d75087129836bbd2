/**
 * Log ingest benchmark: logarithm (crew and logarithm in this process, MariaDB, NATS)
 * against a plain append-to-file of the same lines, measured in the same run.
 *
 *  - Lines are 200 bytes of text (words and numbers, as build logs look), labelled like
 *    task log lines (org, project, run, task, stream, source); 16 runs share the load.
 *  - Baselines: the same lines' text appended to one file in the same batches, once
 *    without fsync (page cache only) and once with an fsync per batch (what "durable"
 *    costs on this disk). logarithm's ratios are printed against both.
 *  - HTTP: BENCH_HTTP_CLIENTS clients POST `/loki/api/v1/push` batches of BENCH_BATCH
 *    lines (bodies built before timing, so the clients cost little) until BENCH_LINES
 *    lines are acknowledged (204).
 *  - NATS: the same number of lines published as pilotage's task log messages
 *    (`<prefix>.pilotage.tasklog.<run>`, BENCH_NATS_LINES_PER_MESSAGE lines each) by a
 *    second NATS connection; timed from the first publish until the store has committed
 *    the last line.
 *  - Tail latency: a Server-Sent Events client follows one run
 *    (`GET /api/v1/runs/{run}/logs/stream`) while single lines are pushed over HTTP every
 *    BENCH_TAIL_INTERVAL_MS; latency = receipt by the client − the push's start, p50/p99,
 *    measured idle and again while an HTTP ingest load runs.
 *
 * Run with `npm run bench:logs`. Knobs: BENCH_LINES (default 1,000,000), BENCH_BATCH
 * (5000), BENCH_HTTP_CLIENTS (4), BENCH_NATS_LINES_PER_MESSAGE (500), BENCH_TAIL_LINES
 * (300), BENCH_TAIL_INTERVAL_MS (10), BENCH_MYSQL_URL, BENCH_NATS_URL. Times are wall-clock
 * on a shared machine: read them with the load average printed with the results. Cleans
 * up its temp directory, databases (cobench_logs_<hex>_*) and streams (BENCH<hex>_*).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, fsyncSync, rmSync, writeSync, statSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createConnection } from 'mysql2/promise';
import { connect as natsConnect, headers as natsHeaders } from 'nats';
import { loadServiceConfig } from '@co/common';
import { startService, type RunningService } from '@co/service-kit';
import { cleanupAll, defer, envInt, fmt, freePort, installAbortHandlers, percentile, progress, sleep, withEnv } from './engine-support';

const CONFIG = {
  mysqlUrl: (process.env.BENCH_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306').replace(/\/+$/, ''),
  natsUrl: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
  lines: envInt('BENCH_LINES', 1_000_000, 1000),
  batch: envInt('BENCH_BATCH', 5000, 1),
  httpClients: envInt('BENCH_HTTP_CLIENTS', 4, 1),
  natsLinesPerMessage: envInt('BENCH_NATS_LINES_PER_MESSAGE', 500, 1),
  tailLines: envInt('BENCH_TAIL_LINES', 300, 10),
  tailIntervalMs: envInt('BENCH_TAIL_INTERVAL_MS', 10, 0),
};

const LINE_BYTES = 200;
const RUNS = 16;
const ADMIN_PASSWORD = `bench-${randomBytes(6).toString('hex')}`;
const WORDS = ['compiling', 'module', 'linking', 'test', 'passed', 'warning:', 'deprecated', 'src/main.ts', 'GET', '/api/v1/items', '200', 'ms', 'cache', 'hit', 'downloading', 'layer', 'sha256:'];

function lineText(i: number): string {
  let text = `${new Date(1_772_366_400_000 + i).toISOString()} [${i % 7 === 0 ? 'WARN' : 'INFO'}] step ${i}:`;
  let n = i * 2654435761;
  while (text.length < LINE_BYTES) {
    n = (n * 1103515245 + 12345) >>> 0;
    text += ` ${WORDS[n % WORDS.length]}${n % 3 === 0 ? ` ${n % 100000}` : ''}`;
  }
  return text.slice(0, LINE_BYTES);
}

async function main(): Promise<void> {
  installAbortHandlers();
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench${tag}`;
  const storageDir = mkdtempSync(path.join(os.tmpdir(), 'co-logs-bench-'));
  defer('remove temp directory', async () => rmSync(storageDir, { recursive: true, force: true }));
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });

  const texts = Array.from({ length: CONFIG.batch * 8 }, (_, i) => lineText(i));
  const lineCount = Math.ceil(CONFIG.lines / CONFIG.batch) * CONFIG.batch;

  // ---- Baselines: the same lines' text appended to one file.
  const baseline = (sync: boolean) => {
    const file = path.join(storageDir, `baseline-${sync ? 'fsync' : 'nosync'}.log`);
    const fd = openSync(file, 'a');
    const started = performance.now();
    for (let done = 0; done < lineCount; done += CONFIG.batch) {
      const offset = done % texts.length;
      writeSync(fd, `${texts.slice(offset, offset + CONFIG.batch).join('\n')}\n`);
      if (sync) fsyncSync(fd);
    }
    const seconds = (performance.now() - started) / 1000;
    closeSync(fd);
    rmSync(file);
    return lineCount / seconds;
  };
  progress('baseline: plain append to a file');
  const plain = baseline(false);
  const plainSynced = baseline(true);

  // ---- NATS: pilotage's task log messages, published before logarithm starts, so that
  // consuming them is timed alone (JetStream's own writes are not counted against it).
  progress(`NATS: publishing ${lineCount} lines, ${CONFIG.natsLinesPerMessage} per message`);
  const runs = Array.from({ length: RUNS }, () => randomUUID());
  const nats = await natsConnect({ servers: CONFIG.natsUrl });
  defer('close NATS connection', () => nats.close());
  const { RetentionPolicy, StorageType } = await import('nats');
  await (await nats.jetstreamManager()).streams.add({
    name: `${prefix}_PILOTAGE`.toUpperCase(),
    subjects: [`${prefix}.pilotage.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  const jetstream = nats.jetstream();
  const encoder = new TextEncoder();
  const messageCount = Math.ceil(lineCount / CONFIG.natsLinesPerMessage);
  const time = new Date().toISOString();
  let started = performance.now();
  const inflight = new Set<Promise<unknown>>();
  for (let m = 0; m < messageCount; m++) {
    const run = runs[m % RUNS];
    const first = Math.floor(m / RUNS) * CONFIG.natsLinesPerMessage;
    const data = {
      runId: run,
      workflowId: 'bench',
      project: 'bench/logs',
      lines: Array.from({ length: CONFIG.natsLinesPerMessage }, (_, i) => ({
        task: 'test.unit',
        attempt: 1,
        source: 'container',
        seq: first + i,
        stream: 'stdout',
        time,
        text: texts[(first + i) % texts.length],
      })),
    };
    const headers = natsHeaders();
    headers.set('Co-Tenant', 'bench');
    const publish = jetstream.publish(`${prefix}.pilotage.tasklog.${run}`, encoder.encode(JSON.stringify(data)), { msgID: `${run}/${first}`, headers });
    inflight.add(publish);
    void publish.finally(() => inflight.delete(publish));
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const publishRate = (messageCount * CONFIG.natsLinesPerMessage) / ((performance.now() - started) / 1000);

  // ---- crew and logarithm.
  const database = (name: string) => `${CONFIG.mysqlUrl}/cobench_logs_${tag}_${name}`;
  const serviceEnv = async (name: string) => ({
    CO_HTTP_HOST: '127.0.0.1',
    CO_HTTP_PORT: String(await freePort()),
    CO_GRPC_PORT: String(await freePort()),
    CO_DB_URL: database(name),
    CO_NATS_URL: CONFIG.natsUrl,
    CO_SUBJECT_PREFIX: prefix,
    CO_LOG_LEVEL: 'error',
  });
  defer('drop databases', async () => {
    const url = new URL(CONFIG.mysqlUrl);
    const connection = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username || 'root'), password: decodeURIComponent(url.password) });
    for (const name of ['crew', 'logarithm']) await connection.query(`DROP DATABASE IF EXISTS \`cobench_logs_${tag}_${name}\``);
    await connection.end();
  });
  defer('delete streams', async () => {
    const connection = await natsConnect({ servers: CONFIG.natsUrl });
    const manager = await connection.jetstreamManager();
    for await (const stream of manager.streams.list()) if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`)) await manager.streams.delete(stream.config.name);
    await connection.close();
  });
  const { crewService } = await import('../services/crew/src/crew.service');
  const { logarithmService } = await import('../services/logarithm/src/logarithm.service');
  const { LogStore } = await import('../services/logarithm/src/storage/log-store');
  const crew: RunningService = await withEnv({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD }, async () => startService(crewService, loadServiceConfig('crew', await serviceEnv('crew')), { logger }));
  defer('stop crew', () => crew.close());
  const logarithm: RunningService = await withEnv(
    { CO_CREW_URL: crew.httpUrl, CO_CREW_GRPC_ADDRESS: crew.grpcAddress, CO_LOGARITHM_STORAGE_DIR: storageDir },
    async () => startService(logarithmService, loadServiceConfig('logarithm', await serviceEnv('logarithm')), { logger }),
  );
  defer('stop logarithm', () => logarithm.close());
  const store = logarithm.app.get(LogStore);
  progress('NATS: logarithm consumes what was published');
  const natsTarget = messageCount * CONFIG.natsLinesPerMessage;
  // Consuming began while the service started: only what is stored from now on is timed.
  const consumedBefore = store.stats.lines;
  started = performance.now();
  while (store.stats.lines < natsTarget) await sleep(2);
  const natsSeconds = (performance.now() - started) / 1000;
  const natsRate = (natsTarget - consumedBefore) / natsSeconds;
  const login = await fetch(`${crew.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
  const token = ((await login.json()) as { accessToken: string }).accessToken;
  for (const [route, body] of [
    ['/api/v1/orgs', { name: 'bench' }],
    ['/api/v1/orgs/bench/projects', { name: 'logs' }],
  ] as const) {
    const answer = await fetch(`${crew.httpUrl}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    if (answer.status !== 201) throw new Error(`${route}: crew answered ${answer.status} ${await answer.text()}`);
  }
  const push = (body: Buffer | string) =>
    fetch(`${logarithm.httpUrl}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });

  // ---- HTTP ingest.
  const bodies = Array.from({ length: 8 }, (_, b) => {
    const run = runs[b % RUNS];
    const ts = BigInt(Date.now()) * 1_000_000n;
    const values = texts.slice(b * CONFIG.batch, (b + 1) * CONFIG.batch).map((text, i) => [(ts + BigInt(i)).toString(), text]);
    const half = Math.ceil(values.length / 2);
    return Buffer.from(
      JSON.stringify({
        streams: [
          { stream: { org: 'bench', project: 'logs', run, task: `build.step${b}`, stream: 'stdout', source: 'container' }, values: values.slice(0, half) },
          { stream: { org: 'bench', project: 'logs', run, task: `build.step${b}`, stream: 'stderr', source: 'container' }, values: values.slice(half) },
        ],
      }),
    );
  });
  const httpIngest = async (total: number) => {
    let sent = 0;
    const client = async () => {
      while (sent < total) {
        const body = bodies[(sent / CONFIG.batch) % bodies.length];
        sent += CONFIG.batch;
        const answer = await push(body);
        if (answer.status !== 204) throw new Error(`push answered ${answer.status}: ${await answer.text()}`);
      }
    };
    await Promise.all(Array.from({ length: CONFIG.httpClients }, client));
    return sent;
  };
  progress(`HTTP ingest: ${lineCount} lines, batches of ${CONFIG.batch}, ${CONFIG.httpClients} clients`);
  await httpIngest(CONFIG.batch * 4); // warm-up
  const cpuBefore = process.cpuUsage();
  const bytesBefore = store.stats.bytes;
  started = performance.now();
  const httpLines = await httpIngest(lineCount);
  const httpSeconds = (performance.now() - started) / 1000;
  const httpCpu = process.cpuUsage(cpuBefore);
  const httpRate = httpLines / httpSeconds;
  const stored = store.stats.bytes - bytesBefore;

  // ---- Tail latency over SSE.
  const tail = async (label: string) => {
    const run = randomUUID();
    const seed = await push(JSON.stringify({ streams: [{ stream: { org: 'bench', project: 'logs', run, task: 'tail.probe' }, values: [[String(BigInt(Date.now()) * 1_000_000n), 'seed']] }] }));
    if (seed.status !== 204) throw new Error(`seed push answered ${seed.status}`);
    const controller = new AbortController();
    const response = await fetch(`${logarithm.httpUrl}/api/v1/runs/${run}/logs/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: controller.signal });
    if (response.status !== 200 || !response.body) throw new Error(`SSE answered ${response.status}: ${await response.text()}`);
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const reader = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split('\n').find((line) => line.startsWith('data: '));
          if (!data) continue;
          const text = (JSON.parse(data.slice(6)) as { text?: string }).text ?? '';
          const start = sentAt.get(text);
          if (start !== undefined) latencies.push(performance.now() - start);
          if (latencies.length >= CONFIG.tailLines) return;
        }
      }
    })().catch(() => undefined);
    for (let i = 0; i < CONFIG.tailLines; i++) {
      const text = `probe ${i}`;
      sentAt.set(text, performance.now());
      void push(JSON.stringify({ streams: [{ stream: { org: 'bench', project: 'logs', run, task: 'tail.probe' }, values: [[String(BigInt(Date.now()) * 1_000_000n), text]] }] }));
      await sleep(CONFIG.tailIntervalMs);
    }
    const deadline = Date.now() + 30_000;
    while (latencies.length < CONFIG.tailLines && Date.now() < deadline) await sleep(10);
    controller.abort();
    await reader;
    latencies.sort((a, b) => a - b);
    return { label, count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  };
  progress('tail latency (SSE), idle');
  const idleTail = await tail('idle');
  progress('tail latency (SSE), under HTTP ingest load');
  const loaded = httpIngest(lineCount / 2);
  const busyTail = await tail('during HTTP ingest');
  await loaded;

  const onDisk = readdirSync(path.join(storageDir, 'segments')).reduce(
    (sum, shard) => sum + readdirSync(path.join(storageDir, 'segments', shard)).reduce((s, file) => s + statSync(path.join(storageDir, 'segments', shard, file)).size, 0),
    0,
  );
  const mb = (rate: number) => fmt((rate * LINE_BYTES) / 1e6, 1);
  const lines = [
    '',
    `logs benchmark: ${lineCount} lines of ${LINE_BYTES} bytes; ${os.cpus().length} CPUs, load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`,
    '',
    '| path | lines/s | MB/s (text) | vs append (no fsync) | vs append + fsync per batch |',
    '|---|---|---|---|---|',
    `| plain append to a file, no fsync | ${fmt(plain)} | ${mb(plain)} | 1.00 | ${(plain / plainSynced).toFixed(2)} |`,
    `| plain append to a file, fsync per batch of ${CONFIG.batch} | ${fmt(plainSynced)} | ${mb(plainSynced)} | ${(plainSynced / plain).toFixed(2)} | 1.00 |`,
    `| logarithm, HTTP Loki push (${CONFIG.httpClients} clients × ${CONFIG.batch} lines) | ${fmt(httpRate)} | ${mb(httpRate)} | ${(httpRate / plain).toFixed(3)} | ${(httpRate / plainSynced).toFixed(3)} |`,
    `| JetStream publish of the task log messages (for reference) | ${fmt(publishRate)} | ${mb(publishRate)} | ${(publishRate / plain).toFixed(3)} | ${(publishRate / plainSynced).toFixed(3)} |`,
    `| logarithm, NATS task log messages (${CONFIG.natsLinesPerMessage} lines each) | ${fmt(natsRate)} | ${mb(natsRate)} | ${(natsRate / plain).toFixed(3)} | ${(natsRate / plainSynced).toFixed(3)} |`,
    '',
    `HTTP ingest: ${fmt(httpSeconds, 2)} s, CPU of this process ${fmt((httpCpu.user + httpCpu.system) / 1e6, 1)} s (${fmt(((httpCpu.user + httpCpu.system) / 1e6 / httpSeconds) * 100)} % of one core); ` +
      `${fmt(stored / 1e6, 1)} MB written for ${fmt((httpLines * LINE_BYTES) / 1e6, 1)} MB of text (${((httpLines * LINE_BYTES) / Math.max(stored, 1)).toFixed(1)}:1); ` +
      `${store.stats.commits} commits in all, ${fmt(store.stats.lines / Math.max(store.stats.commits, 1))} lines per commit on average`,
    `segments on disk: ${fmt(onDisk / 1e6, 1)} MB for ${fmt(store.stats.lines)} lines`,
    '',
    '| tail (SSE) | lines | p50 ms | p99 ms |',
    '|---|---|---|---|',
    ...[idleTail, busyTail].map((t) => `| ${t.label} | ${t.count} | ${fmt(t.p50, 1)} | ${fmt(t.p99, 1)} |`),
    '',
    `goals: ingest ≥ 100,000 lines/s: HTTP ${httpRate >= 100_000 ? 'met' : 'NOT met'}, NATS ${natsRate >= 100_000 ? 'met' : 'NOT met'}; ` +
      `tail p99 ≤ 100 ms: idle ${idleTail.p99 <= 100 ? 'met' : 'NOT met'}, under load ${busyTail.p99 <= 100 ? 'met' : 'NOT met'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((error) => {
    process.stderr.write(`benchmark failed: ${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().then(() => process.exit()));
