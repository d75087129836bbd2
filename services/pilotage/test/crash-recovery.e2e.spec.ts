import * as http from 'node:http';
import { mysqlDatabaseUrl, dropDatabase, deleteStreams, freePort, NATS_URL, uniqueName, eventually } from '../../../test/support/infra';
import { startProcess, type ServiceProcess } from '../../../test/support/processes';
import { action, call, finishedRun, runStatus, sh, taskLog, texts, useToken, workflow } from './support/api';
import { ensureBusyboxImage, podmanSocket } from './support/podman';
import { startPilotageCrew, startTestLogarithm, type PilotageCrew } from './support/pilotage';

jest.setTimeout(180_000);

/** Container `create` events the container engine recorded for one run. */
function containerCreations(runId: string, since: number): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['create'], label: [`co.run=${runId}`] }));
  const path = `/v1.41/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`;
  return new Promise((resolve, reject) => {
    const request = http.get({ socketPath: podmanSocket(), path }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const events = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { Actor: { Attributes: Record<string, string> } });
        resolve(events.map((event) => `${event.Actor.Attributes['co.task']}#${event.Actor.Attributes['co.attempt']}`));
      });
    });
    request.on('error', reject);
  });
}

describe('engine crash recovery', () => {
  const database = uniqueName('co_test_pilotage_crash_');
  const prefix = uniqueName('t');
  let env: Record<string, string>;
  let base: string;
  let engine: ServiceProcess | undefined;
  let crew: PilotageCrew;
  let logarithm: Awaited<ReturnType<typeof startTestLogarithm>>;

  beforeAll(async () => {
    await ensureBusyboxImage();
    crew = await startPilotageCrew();
    logarithm = await startTestLogarithm('distributed', prefix, crew, undefined);
    const httpPort = await freePort();
    env = {
      CO_HTTP_HOST: '127.0.0.1',
      CO_HTTP_PORT: String(httpPort),
      CO_GRPC_PORT: String(await freePort()),
      CO_DB_URL: mysqlDatabaseUrl(database),
      CO_NATS_URL: NATS_URL,
      CO_SUBJECT_PREFIX: prefix,
      CO_LOG_LEVEL: 'warn',
      DOCKER_HOST: `unix://${podmanSocket()}`,
      CO_PILOTAGE_CONTAINER_NETWORK: 'host',
      CO_PILOTAGE_EVENT_BASE_URL: `http://127.0.0.1:${httpPort}`,
      CO_PILOTAGE_LOGARITHM_URL: logarithm.service.httpUrl,
      CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: logarithm.service.grpcAddress,
      ...crew.env,
    };
    base = `http://127.0.0.1:${httpPort}`;
    useToken(base, crew.pilot.token);
  });

  afterAll(async () => {
    await engine?.stop();
    await logarithm?.close();
    await crew?.close();
    await dropDatabase(database);
    await deleteStreams(prefix);
  });

  async function boot(): Promise<ServiceProcess> {
    const started = startProcess('pilotage', env);
    await eventually(async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200, 30_000, 'pilotage ready');
    return started;
  }

  it('survives SIGKILL during a task and while a task finishes unobserved: no container is created twice, no event is lost or repeated, secrets and logs survive', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    engine = await boot();
    const created = await call(
      base,
      'POST',
      '/api/v1/workflows',
      workflow(
        'crash',
        [
          { name: 'first', actions: [sh('slow', "sleep 3; echo '[COUT] word = survived'", { outputs: ['word'] })] },
          {
            name: 'second',
            actions: [
              sh('long', 'echo "$CO_DATA"; echo "token $T"; sleep 4; echo "[COUT] seen = $(echo "$CO_DATA" | grep -c survived)"', {
                inputs: { w: '${stages.first.slow.outputs.word}' },
                env: { T: '${{ secrets.TOKEN }}' },
                outputs: ['seen'],
              }),
            ],
          },
        ],
        { secrets: [{ name: 'TOKEN', required: true }] },
      ),
    );
    expect(created.status).toBe(201);
    // second.long starts only after the first restart: the secret comes from the sealed copy.
    const started = await call(base, 'POST', `/api/v1/workflows/${created.body.id}/runs`, { secrets: { TOKEN: 'kept-across-crashes' } });
    expect(started.status).toBe(201);
    const runId = started.body.id as string;

    // 1: killed while first.slow runs; it finishes while no engine watches.
    await runStatus(base, runId, (run) => action(run, 'first', 'slow').status === 'running', 'first.slow to run');
    engine.child.kill('SIGKILL');
    await engine.exited;
    await new Promise((resolve) => setTimeout(resolve, 4000));
    engine = await boot();

    // 2: killed while second.long runs; it is still running at restart and followed.
    await runStatus(base, runId, (run) => action(run, 'second', 'long').status === 'running', 'second.long to run').catch(async (error) => {
      console.log(JSON.stringify((await call(base, 'GET', `/api/v1/runs/${runId}`)).body, null, 1), engine?.stderr(), engine?.stdout());
      throw error;
    });
    engine.child.kill('SIGKILL');
    await engine.exited;
    engine = await boot();

    const run = await finishedRun(base, runId, 60_000);
    expect(run.status).toBe('succeeded');
    expect(action(run, 'first', 'slow')).toMatchObject({ attempts: 1, outputs: { word: 'survived' } });
    expect(action(run, 'second', 'long')).toMatchObject({ attempts: 1, outputs: { seen: '1' } });

    expect((await containerCreations(runId, since)).sort()).toEqual(['first.slow#1', 'second.long#1']);

    const events = (await call(base, 'GET', `/api/v1/runs/${runId}/events`)).body as { type: string; data: any }[];
    const count = (type: string) => events.filter((event) => event.type === type).length;
    expect(count('TaskStarted')).toBe(2);
    expect(count('TaskFinished')).toBe(2);
    expect(count('TaskQueued')).toBe(2);
    expect(count('StageStarted')).toBe(2);
    expect(count('RunStarted')).toBe(1);
    expect(count('RunSucceeded')).toBe(1);

    // Lines replayed by the adopting engine are stored once.
    const log = await taskLog(base, runId, 'first.slow', (lines) => lines.length > 0, '?source=container');
    expect(texts(log.lines)).toEqual(['[COUT] word = survived']);
    const second = await taskLog(base, runId, 'second.long', (lines) => texts(lines).includes('[COUT] seen = 1'), '?source=container');
    expect(texts(second.lines)).toEqual(['{"w":"survived"}', 'token ***', '[COUT] seen = 1']);
    expect(JSON.stringify(events)).not.toContain('kept-across-crashes');
  });
});
