import { action, call, finishedRun, runStatus, sh, workflow } from './support/api';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

jest.setTimeout(120_000);

describe('two pilotage replicas on one database', () => {
  let first: TestPilotage;
  let second: TestPilotage | undefined;

  beforeAll(async () => {
    await ensureBusyboxImage();
    first = await startPilotage();
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('serve the API on both; one engine drives the runs and the other takes over when it goes away', async () => {
    second = await startPilotage({ CO_DB_URL: first.service.runtime.config.dbUrl, CO_SUBJECT_PREFIX: first.prefix }, 'distributed', {}, first.crew);
    const created = await call(
      second.url,
      'POST',
      '/api/v1/workflows?run=true',
      workflow('handover', [{ name: 'only', actions: [sh('slow', "sleep 3; echo '[COUT] done = yes'", { outputs: ['done'] }), sh('after', 'true')] }]),
    );
    expect(created.status).toBe(201);
    const runId = created.body.run.id;
    // The first replica started first and holds the engine lock.
    await runStatus(first.url, runId, (run) => action(run, 'only', 'slow').status === 'running', 'the task to run');
    const stopping = first.service.close();
    const run = await finishedRun(second.url, runId, 60_000);
    await stopping;
    expect(run.status).toBe('succeeded');
    expect(action(run, 'only', 'slow')).toMatchObject({ attempts: 1, outputs: { done: 'yes' } });
    const events = (await call(second.url, 'GET', `/api/v1/runs/${runId}/events`)).body as { type: string }[];
    expect(events.filter((event) => event.type === 'TaskStarted')).toHaveLength(2);
  });
});
