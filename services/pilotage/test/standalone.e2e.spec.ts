import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SERVICE_NAMES } from '@co/common';
import { login, TEST_ADMIN_PASSWORD } from '../../../test/support/crew-access';
import { eventually, freePort } from '../../../test/support/infra';
import { startProcess } from '../../../test/support/processes';
import { action, call, callAs, finishedRun, sh, taskLog, texts, workflow } from './support/api';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

jest.setTimeout(120_000);

/** The embedded default of `npm start`: SQLite and the in-process bus, same engine. */
describe('runs in standalone mode (SQLite, in-process bus)', () => {
  let pilotage: TestPilotage;

  beforeAll(async () => {
    await ensureBusyboxImage();
    pilotage = await startPilotage({}, 'standalone', {}, undefined, { logarithm: true });
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
    // Task logs go over the in-process bus to logarithm, and are read back through pilotage.
    await taskLog(base, run.id, 'produce.left', (lines) => texts(lines).includes('[COUT] word = hello'));

    const failing = await call(base, 'POST', '/api/v1/workflows?run=true', workflow('standalone-failing', [{ name: 'only', actions: [sh('bad', 'exit 7')] }]));
    const failed = await finishedRun(base, failing.body.run.id);
    expect(failed).toMatchObject({ status: 'failed', reason: 'action only.bad failed: exit code 7' });

    const rerun = await call(base, 'POST', `/api/v1/runs/${run.id}/rerun`);
    expect(rerun.body.number).toBe(2);
    expect((await finishedRun(base, rerun.body.id)).status).toBe('succeeded');
  });
});

describe('the standalone launcher', () => {
  it("points pilotage at crew's ports when CO_CREW_HTTP_PORT and CO_CREW_GRPC_PORT move them", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'co-standalone-'));
    const env: Record<string, string> = { CO_DATA_DIR: dataDir, CO_LOG_LEVEL: 'warn', CO_HTTP_HOST: '127.0.0.1', CO_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD };
    for (const service of SERVICE_NAMES) {
      env[`CO_${service.toUpperCase()}_HTTP_PORT`] = String(await freePort());
      env[`CO_${service.toUpperCase()}_GRPC_PORT`] = String(await freePort());
    }
    const launcher = startProcess('standalone', env);
    try {
      await eventually(async () => launcher.stdout().includes('Press Ctrl-C to stop.') || launcher.child.exitCode !== null, 60_000, 'the standalone launcher');
      expect(launcher.child.exitCode).toBeNull();
      const admin = await login(`http://127.0.0.1:${env.CO_CREW_HTTP_PORT}`, 'admin', TEST_ADMIN_PASSWORD);
      const pilotage = `http://127.0.0.1:${env.CO_PILOTAGE_HTTP_PORT}`;
      const created = await callAs(admin.token, pilotage, 'POST', '/api/v1/workflows', workflow('through-crew', [{ name: 'only', actions: [sh('say', 'true')] }]));
      expect(created.status).toBe(201);
      expect(created.body.createdBy).toBe(admin.id);
      expect((await callAs(undefined, pilotage, 'GET', `/api/v1/workflows/${created.body.id}`)).status).toBe(401);
    } finally {
      await launcher.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
