import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { REPO_ROOT } from '../../../test/support/processes';
import { createOrgWithMembers, login, startCrew, type TestCrew, type TestUser } from './support/crew';

/**
 * containerops.crew.v1.AccessService with a plain grpc-js client, as another service
 * calls it: one test per cell of the policy tables for the actions that have no REST
 * surface in crew (repository connections, clusters, workflow trigger and setting edits).
 */

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;
type Client = grpc.Client & Record<string, Unary>;

jest.setTimeout(120_000);

let crew: TestCrew;
let access: Client;
let users: Record<string, TestUser>;

function invoke<T = any>(method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => access[method](request, new grpc.Metadata(), (error, response) => (error ? reject(error) : resolve(response))));
}

function subject(user: TestUser, tokenId = '') {
  return { user_id: user.id, username: user.username, token_id: tokenId };
}

async function decide(who: string, action: string, resource: { org: string; project?: string; owner?: string }) {
  const user = users[who];
  return invoke<{ allowed: boolean; visible: boolean; reason: string }>('Authorize', {
    subject: subject(user),
    action,
    resource: { org: resource.org, project: resource.project ?? '', type: action.split(':')[0], id: '', owner: resource.owner ?? '' },
  });
}

beforeAll(async () => {
  crew = await startCrew();
  const admin = await login(crew, 'admin', crew.adminPassword!);
  users = await createOrgWithMembers(crew, admin, 'acme', {
    members: { oscar: 'org-admin' },
    projects: { web: { paula: 'project-admin', mike: 'member' }, api: {} },
  });
  await createOrgWithMembers(crew, admin, 'globex', { projects: { shop: {} } });
  const me = await fetch(`${crew.url}/api/v1/me`, { headers: { authorization: `Bearer ${admin}` } }).then((response) => response.json() as Promise<{ id: string }>);
  users.admin = { id: me.id, username: 'admin', password: crew.adminPassword!, token: admin };
  const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/containerops/crew/v1/crew.proto'), { keepCase: true, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(definition) as any).containerops.crew.v1;
  access = new v1.AccessService(crew.service.grpcAddress, grpc.credentials.createInsecure());
});

afterAll(async () => {
  access?.close();
  await crew?.close();
});

const ROLES = { 'platform-admin': 'admin', 'org-admin': 'oscar', 'project-admin': 'paula', member: 'mike' } as const;

describe('repository-connection: own objects for everyone', () => {
  const cells = (['view', 'manage'] as const).flatMap((verb) => Object.entries(ROLES).map(([role, who]) => [verb, role, who] as const));
  it.each(cells)('repository-connection:%s × %s: allowed on their own, denied on another user’s', async (verb, _role, who) => {
    const action = `repository-connection:${verb}`;
    expect(await decide(who, action, { org: '', owner: users[who].id })).toMatchObject({ allowed: true, visible: true });
    const other = who === 'mike' ? users.paula.id : users.mike.id;
    const denied = await decide(who, action, { org: '', owner: other });
    expect(denied).toMatchObject({ allowed: false, visible: true });
    expect(denied.reason).toContain('only on objects they created');
  });
});

describe('cluster: platform administrators in default/admin, organization and project administrators in their projects', () => {
  const verbs = ['view', 'add', 'remove'] as const;
  it.each(verbs)('cluster:%s × platform-admin in default/admin: allowed', async (verb) => {
    expect(await decide('admin', `cluster:${verb}`, { org: 'default', project: 'admin' })).toMatchObject({ allowed: true, visible: true });
  });
  it.each(verbs)('cluster:%s × platform-admin elsewhere: denied (visible)', async (verb) => {
    const decision = await decide('admin', `cluster:${verb}`, { org: 'acme', project: 'web' });
    expect(decision).toMatchObject({ allowed: false, visible: true });
    expect(decision.reason).toBe(`platform-admin may cluster:${verb} only in default/admin`);
  });
  it.each(verbs)('cluster:%s × org-admin: allowed in every project of their organization, hidden elsewhere', async (verb) => {
    expect((await decide('oscar', `cluster:${verb}`, { org: 'acme', project: 'web' })).allowed).toBe(true);
    expect((await decide('oscar', `cluster:${verb}`, { org: 'acme', project: 'api' })).allowed).toBe(true);
    expect(await decide('oscar', `cluster:${verb}`, { org: 'globex', project: 'shop' })).toMatchObject({ allowed: false, visible: false });
    expect(await decide('oscar', `cluster:${verb}`, { org: 'default', project: 'admin' })).toMatchObject({ allowed: false, visible: false });
  });
  it.each(verbs)('cluster:%s × project-admin: allowed in their project only', async (verb) => {
    expect((await decide('paula', `cluster:${verb}`, { org: 'acme', project: 'web' })).allowed).toBe(true);
    expect(await decide('paula', `cluster:${verb}`, { org: 'acme', project: 'api' })).toMatchObject({ allowed: false, visible: true });
  });
  it.each(verbs)('cluster:%s × member: denied', async (verb) => {
    const decision = await decide('mike', `cluster:${verb}`, { org: 'acme', project: 'web' });
    expect(decision).toMatchObject({ allowed: false, visible: true, reason: `member of acme/web may not cluster:${verb}` });
  });
});

describe('workflow:edit-triggers and workflow:edit-settings: own objects for administrators, nothing for members', () => {
  const cells = (['edit-triggers', 'edit-settings'] as const).flatMap((verb) => Object.entries(ROLES).map(([role, who]) => [verb, role, who] as const));
  it.each(cells)('workflow:%s × %s', async (verb, role, who) => {
    const action = `workflow:${verb}`;
    const own = await decide(who, action, { org: 'acme', project: 'web', owner: users[who].id });
    const others = await decide(who, action, { org: 'acme', project: 'web', owner: users[who === 'admin' ? 'mike' : 'admin'].id });
    expect(others.allowed).toBe(false);
    if (role === 'member') {
      expect(own).toMatchObject({ allowed: false, reason: `member of acme/web may not ${action}` });
    } else {
      expect(own.allowed).toBe(true);
      expect(others.reason).toContain('only on objects they created');
    }
  });
});

describe('the rest of AccessService', () => {
  it('answers ListScope for list filters', async () => {
    expect(await invoke('ListScope', { subject: subject(users.oscar), action: 'workflow:view' })).toMatchObject({ everywhere: false, orgs: ['acme'], projects: [] });
    expect(await invoke('ListScope', { subject: subject(users.mike), action: 'workflow:view' })).toMatchObject({ orgs: [], own_projects: ['acme/web'] });
    expect(await invoke('ListScope', { subject: subject(users.admin), action: 'workflow:view' })).toMatchObject({ everywhere: true });
    expect(await invoke('ListScope', { subject: { user_id: '', username: '', token_id: '' }, action: 'workflow:view' })).toMatchObject({ everywhere: false, orgs: [], projects: [] });
  });

  it('denies an anonymous subject and a token that is not active', async () => {
    const anonymous = await invoke('Authorize', { subject: {}, action: 'workflow:view', resource: { org: 'acme', project: 'web' } });
    expect(anonymous).toMatchObject({ allowed: false });
    const token = await invoke('Authorize', { subject: subject(users.oscar, 'no-such-token'), action: 'workflow:view', resource: { org: 'acme', project: 'web' } });
    expect(token).toMatchObject({ allowed: false, visible: true });
    expect((await decide('oscar', 'workflow:view', { org: 'acme', project: 'web' })).allowed).toBe(true);
  });

  it('refuses an action outside the catalog with INVALID_ARGUMENT and the error code', async () => {
    const error = await invoke('Authorize', { subject: subject(users.oscar), action: 'workflow:destroy', resource: { org: 'acme' } }).then(
      () => undefined,
      (failure: grpc.ServiceError) => failure,
    );
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.metadata.get('error-code')).toEqual(['ACCESS.UNKNOWN_ACTION']);
  });

  it('answers GetQuota and IntrospectToken', async () => {
    // No limit is an absent field; 0 is a limit (nothing more may be added) and must survive the wire.
    const unlimited = await invoke('GetQuota', { org: 'acme', project: 'web' });
    expect(unlimited.org.max_workflows).toBeUndefined();
    const put = await fetch(`${crew.url}/api/v1/orgs/acme/quotas`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${users.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ maxWorkflows: 0, maxConcurrentRuns: 3 }),
    });
    expect(put.status).toBe(200);
    const limited = await invoke('GetQuota', { org: 'acme', project: 'web' });
    expect(Number(limited.org.max_workflows)).toBe(0);
    expect(Number(limited.org.max_concurrent_runs)).toBe(3);
    expect(limited.org.max_registry_bytes).toBeUndefined();
    const token = await invoke('IntrospectToken', { token: 'cop_not-a-real-token', username: '' });
    expect(token).toMatchObject({ active: false, user_id: '' });
    expect(token.reason).not.toBe('');
  });
});
