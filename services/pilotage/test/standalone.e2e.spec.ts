import { action, call, finishedRun, sh, workflow } from './support/api';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

jest.setTimeout(120_000);

/** The embedded default of `npm start`: SQLite and the in-process bus, same engine. */
describe('runs in standalone mode (SQLite, in-process bus)', () => {
  let pilotage: TestPilotage;

  beforeAll(async () => {
    await ensureBusyboxImage();
    pilotage = await startPilotage({}, 'standalone');
  });

  afterAll(async () => {
    await pilotage?.close();
  });

  it('runs a workflow with data links, a failure, logs and a rerun', async () => {
    const base = pilotage.url;
    const created = await call(
      base,
      'POST',
      '/api/v1/workflows?run=true',
      workflow('standalone', [
        { name: 'produce', sequencing: 'parallel', actions: [sh('left', "echo '[COUT] word = hello'", { outputs: ['word'] }), sh('right', "echo '[COUT] word = world'", { outputs: ['word'] })] },
        {
          name: 'consume',
          actions: [sh('join', 'echo "[COUT] joined = $(echo "$CO_DATA" | tr -d \'{}"\')"', { inputs: { a: '${stages.produce.left.outputs.word}', b: '${stages.produce.right.outputs.word}' }, outputs: ['joined'] })],
        },
      ]),
    );
    expect(created.status).toBe(201);
    const run = await finishedRun(base, created.body.run.id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 'consume', 'join').outputs).toEqual({ joined: 'a:hello,b:world' });
    const logs = await call(base, 'GET', `/api/v1/runs/${run.id}/tasks/produce.left/logs`);
    expect(logs.body.lines.map((line: any) => line.text)).toContain("[COUT] word = hello");

    const failing = await call(base, 'POST', '/api/v1/workflows?run=true', workflow('standalone-failing', [{ name: 'only', actions: [sh('bad', 'exit 7')] }]));
    const failed = await finishedRun(base, failing.body.run.id);
    expect(failed).toMatchObject({ status: 'failed', reason: 'action only.bad failed: exit code 7' });

    const rerun = await call(base, 'POST', `/api/v1/runs/${run.id}/rerun`);
    expect(rerun.body.number).toBe(2);
    expect((await finishedRun(base, rerun.body.id)).status).toBe('succeeded');
  });
});
