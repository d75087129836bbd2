import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { NATS_URL, eventually } from '../../../test/support/infra';
import { RunSecretStore } from '../src/runs/run-secrets';
import { action, call, finishedRun, sh, workflow } from './support/api';
import { startFakeLogMasks, type FakeLogMasks } from './support/fake-log-masks';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

jest.setTimeout(120_000);

const SECRET = 's3cr3t-Value-42';
const SECRETS = [{ name: 'TOKEN', description: 'registry token', required: true }, { name: 'OPTIONAL' }];

describe('run secrets on Podman', () => {
  let masks: FakeLogMasks;
  let pilotage: TestPilotage;
  let base: string;
  let nats: NatsConnection;

  beforeAll(async () => {
    await ensureBusyboxImage();
    masks = await startFakeLogMasks();
    pilotage = await startPilotage({}, 'distributed', { CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: masks.address }, undefined, { captureLogs: true });
    base = pilotage.url;
    nats = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nats?.close();
    await pilotage?.close();
    await masks?.close();
  });

  function collect(subscription: Subscription): any[] {
    const seen: any[] = [];
    void (async () => {
      for await (const message of subscription) seen.push(message.json());
    })();
    return seen;
  }

  it('refuses secrets outside env values at save, with their paths', async () => {
    const answer = await call(
      base,
      'POST',
      '/api/v1/workflows',
      workflow('secret-in-command', [{ name: 's', actions: [sh('a', 'echo ${{ secrets.TOKEN }}', { inputs: { t: '${{ secrets.TOKEN }}' } })] }], { secrets: SECRETS }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.issues.map((issue: any) => [issue.path, issue.code])).toEqual([
      ['$.spec.stages[0].actions[0].command[2]', 'WORKFLOW.SECRET_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[0].inputs.t', 'WORKFLOW.SECRET_NOT_ALLOWED'],
    ]);
  });

  it('gives secrets to env only, masks them in every log line and output, records only their names, and forgets them at the end', async () => {
    const lines = collect(nats.subscribe(`${pilotage.prefix}.pilotage.tasklog.>`));
    const created = await call(
      base,
      'POST',
      '/api/v1/workflows',
      workflow(
        'uses-secrets',
        [
          {
            name: 'only',
            actions: [
              sh('show', 'echo "auth=$AUTH"; echo "opt=[$OPT]"; echo "[COUT] echoed = $GLOBAL"; echo "stderr $GLOBAL" >&2', {
                env: { AUTH: 'Bearer ${{ secrets.TOKEN }}', OPT: '${{ secrets.OPTIONAL }}' },
                outputs: ['echoed'],
              }),
            ],
          },
        ],
        { secrets: SECRETS, env: { GLOBAL: '${{ secrets.TOKEN }}' } },
      ),
    );
    expect(created.status).toBe(201);
    const id = created.body.id;

    const missing = await call(base, 'POST', `/api/v1/workflows/${id}/runs`, { secrets: { OPTIONAL: 'abc', EXTRA: 'whatever' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({
      code: 'RUN.INVALID_SECRETS',
      details: { missing: ['TOKEN'], undeclared: ['EXTRA'], invalid: ['OPTIONAL is shorter than 4 characters'] },
    });

    const started = await call(base, 'POST', `/api/v1/workflows/${id}/runs`, { secrets: { TOKEN: SECRET } });
    expect(started.status).toBe(201);
    const run = await finishedRun(base, started.body.id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 'only', 'show').outputs).toEqual({ echoed: '***' });

    // The masks reached the log service, under the run's tenant.
    expect(masks.received).toContainEqual({ org: 'default', project: 'admin', run: run.id, values: [SECRET] });

    const texts = await eventually(async () => {
      const mine = lines.filter((message) => message.runId === run.id).flatMap((message) => message.lines.map((line: any) => line.text as string));
      return mine.some((text) => text.startsWith('stderr')) && mine;
    }, 15_000, 'the task log lines on the bus');
    expect(texts).toEqual(expect.arrayContaining(['auth=Bearer ***', 'opt=[]', '[COUT] echoed = ***', 'stderr ***']));
    expect(texts.join('\n')).not.toContain(SECRET);

    const events = await call(base, 'GET', `/api/v1/runs/${run.id}/events`);
    expect(JSON.stringify(events.body)).not.toContain(SECRET);
    expect(JSON.stringify(pilotage.logs)).not.toContain(SECRET);

    const store = pilotage.service.app.get(RunSecretStore);
    await eventually(async () => Object.keys(await store.load(run.id)).length === 0, 10_000, "the run's secrets deleted");

    // A rerun is given the secrets again.
    const rerunWithout = await call(base, 'POST', `/api/v1/runs/${run.id}/rerun`, {});
    expect(rerunWithout.status).toBe(400);
    expect(rerunWithout.body.error.details.missing).toEqual(['TOKEN']);
    const rerun = await call(base, 'POST', `/api/v1/runs/${run.id}/rerun`, { secrets: { TOKEN: SECRET } });
    expect(rerun.status).toBe(201);
    expect((await finishedRun(base, rerun.body.id)).status).toBe('succeeded');
  });

  it('refuses ?run=true for a workflow with required secrets, before saving it', async () => {
    const document = workflow('run-needs-secret', [{ name: 's', actions: [sh('a', 'true', { env: { T: '${{ secrets.TOKEN }}' } })] }], { secrets: SECRETS });
    const answer = await call(base, 'POST', '/api/v1/workflows?run=true', document);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'RUN.INVALID_SECRETS', details: { missing: ['TOKEN'] } });
    const listed = await call(base, 'GET', '/api/v1/workflows?project=default/admin&name=run-needs-secret');
    expect(listed.body.items).toEqual([]);
  });

  it('runs when the log service is unreachable, warns without the values, and registers the masks once it answers', async () => {
    // The port stays taken (connections dropped: logarithm does not answer) until the late stand-in binds it.
    const holder = await holdPort();
    const isolated = await startPilotage({}, 'distributed', { CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: `127.0.0.1:${holder.port}` }, pilotage.crew, { captureLogs: true });
    const gate = await startGate();
    let late: FakeLogMasks | undefined;
    try {
      // The task runs until the test opens the gate, which it does once the masks arrived late.
      const waitForGate = `i=0; until wget -q -O /dev/null ${gate.url}; do i=$((i+1)); [ $i -lt 450 ] || exit 3; sleep 0.2; done`;
      const created = await call(
        isolated.url,
        'POST',
        '/api/v1/workflows',
        workflow('masks-later', [{ name: 's', actions: [sh('slow', `echo "got $T"; ${waitForGate}`, { env: { T: '${{ secrets.TOKEN }}' } })] }], { secrets: SECRETS }),
      );
      const started = await call(isolated.url, 'POST', `/api/v1/workflows/${created.body.id}/runs`, { secrets: { TOKEN: SECRET } });
      expect(started.status).toBe(201);
      const runId = started.body.id;
      await eventually(async () => isolated.logs.some((line) => line.includes('could not register the run')), 15_000, 'a warning about the masks');
      await holder.close();
      late = await startFakeLogMasksOn(holder.port);
      const arrived = late;
      await eventually(async () => arrived.received.some((masks) => masks.run === runId), 60_000, 'the masks registered by a retry');
      const stillRunning = await call(isolated.url, 'GET', `/api/v1/runs/${runId}`);
      expect(stillRunning.body.status).toBe('running');
      gate.open();
      const run = await finishedRun(isolated.url, runId);
      expect(run.status).toBe('succeeded');
      expect(late.received).toContainEqual({ org: 'default', project: 'admin', run: run.id, values: [SECRET] });
      expect(JSON.stringify(isolated.logs)).not.toContain(SECRET);
    } finally {
      gate.open();
      await isolated.close();
      await gate.close();
      await holder.close();
      await late?.close();
    }
  });
});

/** A port kept taken by a server that drops every connection, until `close()`. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createNetServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

/** The log mask stand-in on `port`, tried again for a while if something else holds the port for a moment. */
async function startFakeLogMasksOn(port: number): Promise<FakeLogMasks> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await startFakeLogMasks(port);
    } catch (error) {
      if (tries >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** An HTTP endpoint that answers 503 until `open()`, then 200: what a task polls to know it may end. */
async function startGate(): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  let opened = false;
  const server = createHttpServer((_request, response) => {
    response.writeHead(opened ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/gate`,
    open: () => (opened = true),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
