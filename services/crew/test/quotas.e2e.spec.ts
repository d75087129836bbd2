import { randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { eventually, NATS_URL } from '../../../test/support/infra';
import { call, startCrew, type TestCrew } from './support/crew';

const ADMIN_PASSWORD = 'bootstrap-Admin-pass-42';
const PASSWORD = 'a-long-enough-passphrase';

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

const UNLIMITED = { maxWorkflows: null, maxConcurrentRuns: null, maxRegistryBytes: null };

describe('crew: quotas', () => {
  let crew: TestCrew;
  let nats: NatsConnection;
  let admin: Record<string, string>;
  let alice: Record<string, string>;
  let carol: Record<string, string>;

  /** Publishes a pilotage event on JetStream exactly as pilotage's outbox relay does. */
  async function publish(aggregate: 'workflow' | 'run', streamId: string, type: string, data: Record<string, unknown>, id = randomUUID()) {
    const envelope = {
      position: 1,
      id,
      streamId,
      streamVersion: 1,
      type,
      schemaVersion: 1,
      data,
      metadata: {},
      service: 'pilotage',
      occurredAt: new Date().toISOString(),
    };
    const headers = natsHeaders();
    headers.set('Co-Event-Type', type);
    await nats.jetstream().publish(`${crew.prefix}.pilotage.${aggregate}.${type}`, new TextEncoder().encode(JSON.stringify(envelope)), { msgID: id, headers });
  }

  async function quotas(org: string, headers = admin) {
    return call(crew.url, 'GET', `/api/v1/orgs/${org}/quotas`, undefined, headers);
  }

  beforeAll(async () => {
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD, CO_CREW_DEFAULT_MAX_WORKFLOWS: '10' });
    nats = await connect({ servers: NATS_URL });
    admin = bearer((await call(crew.url, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).body.accessToken);
    for (const username of ['alice', 'carol']) {
      expect((await call(crew.url, 'POST', '/api/v1/users', { username, password: PASSWORD, email: `${username}@example.com` }, admin)).status).toBe(201);
    }
    for (const org of ['acme', 'globex']) expect((await call(crew.url, 'POST', '/api/v1/orgs', { name: org }, admin)).status).toBe(201);
    for (const project of ['web', 'api']) expect((await call(crew.url, 'POST', '/api/v1/orgs/acme/projects', { name: project }, admin)).status).toBe(201);
    expect((await call(crew.url, 'POST', '/api/v1/orgs/acme/members', { username: 'alice', role: 'member' }, admin)).status).toBe(201);
    expect((await call(crew.url, 'POST', '/api/v1/orgs/globex/members', { username: 'carol', role: 'org-admin' }, admin)).status).toBe(201);
    alice = bearer((await call(crew.url, 'POST', '/api/v1/auth/login', { username: 'alice', password: PASSWORD })).body.accessToken);
    carol = bearer((await call(crew.url, 'POST', '/api/v1/auth/login', { username: 'carol', password: PASSWORD })).body.accessToken);
  });
  afterAll(async () => {
    await nats?.close();
    await crew?.close();
  });

  it('shows defaults (CO_CREW_DEFAULT_MAX_WORKFLOWS) for the organization, no limits for projects, and no usage', async () => {
    const answer = await quotas('acme');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      org: { name: 'acme', limits: { ...UNLIMITED, maxWorkflows: 10 }, usage: { workflows: 0, concurrentRuns: 0, registryBytes: 0 } },
      projects: [
        { project: 'api', limits: UNLIMITED, usage: { workflows: 0, concurrentRuns: 0, registryBytes: 0 } },
        { project: 'web', limits: UNLIMITED, usage: { workflows: 0, concurrentRuns: 0, registryBytes: 0 } },
      ],
    });
  });

  it('lets a platform administrator replace limits: a number, null for none, absent for the default', async () => {
    const set = await call(crew.url, 'PUT', '/api/v1/orgs/acme/quotas', { maxWorkflows: 3, maxConcurrentRuns: null, maxRegistryBytes: 1_000_000 }, admin);
    expect(set.status).toBe(200);
    expect(set.body.limits).toEqual({ maxWorkflows: 3, maxConcurrentRuns: null, maxRegistryBytes: 1_000_000 });
    const project = await call(crew.url, 'PUT', '/api/v1/orgs/acme/projects/web/quotas', { maxConcurrentRuns: 1 }, admin);
    expect(project.status).toBe(200);
    expect(project.body.limits).toEqual({ ...UNLIMITED, maxConcurrentRuns: 1 });
    const view = (await quotas('acme')).body;
    expect(view.org.limits).toEqual({ maxWorkflows: 3, maxConcurrentRuns: null, maxRegistryBytes: 1_000_000 });
    expect(view.projects.find((entry: { project: string }) => entry.project === 'web').limits).toEqual({ ...UNLIMITED, maxConcurrentRuns: 1 });

    // Replacing without maxWorkflows brings the default back.
    const reset = await call(crew.url, 'PUT', '/api/v1/orgs/acme/quotas', { maxConcurrentRuns: 5 }, admin);
    expect(reset.body.limits).toEqual({ maxWorkflows: 10, maxConcurrentRuns: 5, maxRegistryBytes: null });
    // Recorded as events: the history of a quota is its stream.
    const history = await crew.service.runtime.store.readStream('quota-acme');
    expect(history.map((event) => event.type)).toEqual(['QuotaSet', 'QuotaSet']);
    expect(history[1].data).toEqual({ org: 'acme', limits: { maxConcurrentRuns: 5 } });
  });

  it('refuses invalid limits with 400 and says what to send', async () => {
    for (const body of [{ maxWorkflows: -1 }, { maxWorkflows: 1.5 }, { maxWorkflows: '10' }, { maxConcurrentRuns: true }, { maxWidgets: 1 }]) {
      const answer = await call(crew.url, 'PUT', '/api/v1/orgs/acme/quotas', body, admin);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('REQUEST.INVALID');
    }
    const negative = await call(crew.url, 'PUT', '/api/v1/orgs/acme/quotas', { maxWorkflows: -1 }, admin);
    expect(negative.body.error.message).toContain('maxWorkflows must be a whole number from 0, or null for no limit');
  });

  it('lets members view their organization, only platform administrators edit, and hides other organizations', async () => {
    expect((await quotas('acme', alice)).status).toBe(200);
    const edit = await call(crew.url, 'PUT', '/api/v1/orgs/acme/quotas', { maxWorkflows: 100 }, alice);
    expect(edit.status).toBe(403);
    expect(edit.body.error.code).toBe('AUTH.FORBIDDEN');
    const orgAdminEdit = await call(crew.url, 'PUT', '/api/v1/orgs/globex/quotas', { maxWorkflows: 100 }, carol);
    expect(orgAdminEdit.status).toBe(403);
    const foreign = await quotas('acme', carol);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('ORG.NOT_FOUND');
    expect((await quotas('no-such-org')).status).toBe(404);
    const missingProject = await call(crew.url, 'PUT', '/api/v1/orgs/acme/projects/nope/quotas', { maxWorkflows: 1 }, admin);
    expect(missingProject.status).toBe(404);
    expect(missingProject.body.error.code).toBe('PROJECT.NOT_FOUND');
    expect((await quotas('acme', {})).status).toBe(401);
  });

  it("follows usage from pilotage's workflow and run events, duplicates and all", async () => {
    const [w1, w2, w3] = [randomUUID(), randomUUID(), randomUUID()];
    const created = randomUUID();
    await publish('workflow', `workflow-${w1}`, 'WorkflowCreated', { workflowId: w1, project: 'acme/web', name: 'one' }, created);
    await publish('workflow', `workflow-${w1}`, 'WorkflowCreated', { workflowId: w1, project: 'acme/web', name: 'one' }, created);
    await publish('workflow', `workflow-${w2}`, 'WorkflowCreated', { workflowId: w2, project: 'acme/web', name: 'two' });
    await publish('workflow', `workflow-${w3}`, 'WorkflowCreated', { workflowId: w3, project: 'acme/api', name: 'three' });
    await publish('workflow', `workflow-${w2}`, 'WorkflowDeleted', {});
    await publish('workflow', `workflow-${randomUUID()}`, 'WorkflowCreated', { workflowId: 'x', project: 'globex/ops', name: 'elsewhere' });
    await publish('run', `run-${w1}.1`, 'RunRequested', { runId: 'r1', workflowId: w1, project: 'acme/web', number: 1 });
    await publish('run', `run-${w1}.1`, 'RunStarted', { at: new Date().toISOString() });
    await publish('run', `run-${w1}.2`, 'RunRequested', { runId: 'r2', workflowId: w1, project: 'acme/web', number: 2 });
    await publish('run', `run-${w3}.1`, 'RunRequested', { runId: 'r3', workflowId: w3, project: 'acme/api', number: 1 });
    await publish('run', `run-${w1}.2`, 'RunSucceeded', { at: new Date().toISOString() });
    // An ending that arrives before its start is not counted as running.
    await publish('run', `run-${w3}.9`, 'RunFailed', { at: new Date().toISOString() });
    await publish('run', `run-${w3}.9`, 'RunRequested', { runId: 'r9', workflowId: w3, project: 'acme/api', number: 9 });

    const view = await eventually(async () => {
      const body = (await quotas('acme')).body;
      return body.org.usage.workflows === 2 && body.org.usage.concurrentRuns === 2 ? body : undefined;
    }, 15_000, 'usage from pilotage events');
    const byProject = Object.fromEntries(view.projects.map((entry: { project: string; usage: unknown }) => [entry.project, entry.usage]));
    expect(byProject).toEqual({
      web: { workflows: 1, concurrentRuns: 1, registryBytes: 0 },
      api: { workflows: 1, concurrentRuns: 1, registryBytes: 0 },
    });
    expect((await quotas('globex')).body.org.usage).toEqual({ workflows: 1, concurrentRuns: 0, registryBytes: 0 });

    await publish('run', `run-${w1}.1`, 'RunStopped', { at: new Date().toISOString() });
    await eventually(async () => (await quotas('acme')).body.org.usage.concurrentRuns === 1, 15_000, 'a stopped run counted off');
  });

  it('answers AccessControl.quota (what AccessService.GetQuota serves) from the limits set', async () => {
    const { QUOTA_READER } = await import('../src/quotas/quota.port');
    const reader = crew.service.app.get(QUOTA_READER, { strict: false });
    expect(await reader.limits('acme', 'web')).toEqual({ org: { maxWorkflows: 10, maxConcurrentRuns: 5 }, project: { maxConcurrentRuns: 1 } });
    expect(await reader.limits('globex')).toEqual({ org: { maxWorkflows: 10 }, project: {} });
  });
});
