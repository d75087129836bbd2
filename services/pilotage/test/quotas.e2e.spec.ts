import { call, callAs, finishedRun, runStatus, sh, workflow } from './support/api';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

jest.setTimeout(120_000);

/** A workflow document in `project`. */
function inProject(project: string, name: string, script = 'echo hi') {
  const document = workflow(name, [{ name: 'only', actions: [sh('say', script)] }]);
  return { ...document, metadata: { ...document.metadata, project } };
}

describe("pilotage: crew's quotas", () => {
  let pilotage: TestPilotage;
  let base: string;

  /** Sets limits through crew's API as its platform administrator. */
  async function setQuota(path: string, limits: Record<string, number | null>) {
    const answer = await callAs(pilotage.crew.admin.token, pilotage.crew.url, 'PUT', `/api/v1/orgs/${path}/quotas`, limits);
    expect(answer.status).toBe(200);
  }

  beforeAll(async () => {
    await ensureBusyboxImage();
    pilotage = await startPilotage();
    base = pilotage.url;
  });
  afterAll(async () => {
    await pilotage?.close();
  });

  it('refuses a workflow beyond the organization quota with 403 QUOTA.EXCEEDED, naming the quota; deleting one frees a slot', async () => {
    await setQuota('other', { maxWorkflows: 2 });
    const first = await call(base, 'POST', '/api/v1/workflows', inProject('other/team', 'quota-one'));
    expect(first.status).toBe(201);
    expect((await call(base, 'POST', '/api/v1/workflows', inProject('other/place', 'quota-two'))).status).toBe(201);

    const refused = await call(base, 'POST', '/api/v1/workflows', inProject('other/team', 'quota-three'));
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({
      code: 'QUOTA.EXCEEDED',
      message: 'organization other allows at most 2 workflows (maxWorkflows); delete one, or ask a platform administrator to raise it.',
      details: { quota: 'maxWorkflows', scope: 'organization', org: 'other', project: 'team', limit: 2, usage: 2 },
    });
    // A copy is a new workflow too.
    const copy = await call(base, 'POST', `/api/v1/workflows/${first.body.id}/copy`, { name: 'quota-copy', project: 'other/copies' });
    expect(copy.status).toBe(403);
    expect(copy.body.error.code).toBe('QUOTA.EXCEEDED');
    // Another organization is not limited by this one's quota.
    expect((await call(base, 'POST', '/api/v1/workflows', inProject('listing/beta', 'quota-elsewhere'))).status).toBe(201);

    expect((await call(base, 'DELETE', `/api/v1/workflows/${first.body.id}`)).status).toBe(204);
    expect((await call(base, 'POST', '/api/v1/workflows', inProject('other/team', 'quota-three'))).status).toBe(201);
    await setQuota('other', { maxWorkflows: null });
  });

  it("refuses a run beyond the project's concurrent-run quota until a run ends", async () => {
    await setQuota('listing/projects/alpha', { maxConcurrentRuns: 1 });
    const created = await call(base, 'POST', '/api/v1/workflows', inProject('listing/alpha', 'quota-slow', 'sleep 60'));
    expect(created.status).toBe(201);
    const first = await call(base, 'POST', `/api/v1/workflows/${created.body.id}/runs`, {});
    expect(first.status).toBe(201);

    const refused = await call(base, 'POST', `/api/v1/workflows/${created.body.id}/runs`, {});
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('QUOTA.EXCEEDED');
    expect(refused.body.error.message).toBe(
      'project listing/alpha allows at most 1 concurrent run (maxConcurrentRuns); wait for a run to finish or stop one, or ask a platform administrator to raise it.',
    );
    const rerun = await call(base, 'POST', `/api/v1/runs/${first.body.id}/rerun`, {});
    expect(rerun.status).toBe(403);

    await runStatus(base, first.body.id, (run) => run.status === 'running', 'the first run to be running');
    expect((await call(base, 'POST', `/api/v1/runs/${first.body.id}/stop`, {})).status).toBe(200);
    await finishedRun(base, first.body.id);
    const next = await call(base, 'POST', `/api/v1/workflows/${created.body.id}/runs`, {});
    expect(next.status).toBe(201);
    await call(base, 'POST', `/api/v1/runs/${next.body.id}/stop`, {});
    await finishedRun(base, next.body.id);
  });
});
