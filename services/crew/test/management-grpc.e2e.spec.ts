import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { REPO_ROOT } from '../../../test/support/processes';
import { eventually } from '../../../test/support/infra';
import { bearer, call, createOrgWithMembers, login, startCrew, type TestCrew, type TestUser } from './support/crew';

/**
 * crew's management API over gRPC (UserService, TenancyService, RoleService,
 * TokenService, QuotaService, AuditService) with plain grpc-js clients: the calls
 * work, and they are refused as their REST equivalents are (UNAUTHENTICATED,
 * PERMISSION_DENIED, NOT_FOUND for another organization, INVALID_ARGUMENT), with
 * the `error-code` metadata.
 */

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;
type Client = grpc.Client & Record<string, Unary>;

const SERVICES = ['UserService', 'TenancyService', 'RoleService', 'TokenService', 'QuotaService', 'AuditService'] as const;
type ServiceName = (typeof SERVICES)[number];

jest.setTimeout(120_000);

let crew: TestCrew;
let admin: string;
let users: Record<string, TestUser>;
const clients = {} as Record<ServiceName, Client>;

/** Calls `service.method` with `token` as the bearer credentials (none when undefined). */
function invoke<T = any>(service: ServiceName, method: string, request: object, token?: string): Promise<T> {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => clients[service][method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
}

/** The call's error status and `error-code` metadata; fails when the call succeeds. */
async function refusal(promise: Promise<unknown>): Promise<{ code: grpc.status; errorCode: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const failed = error as grpc.ServiceError;
    return { code: failed.code, errorCode: String(failed.metadata?.get('error-code')[0] ?? ''), message: failed.details };
  }
  throw new Error('the call succeeded; a refusal was expected');
}

beforeAll(async () => {
  crew = await startCrew();
  admin = await login(crew, 'admin', crew.adminPassword!);
  users = await createOrgWithMembers(crew, admin, 'acme', { members: { oscar: 'org-admin' }, projects: { web: { mike: 'member' } } });
  await createOrgWithMembers(crew, admin, 'globex', { projects: { shop: {} } });
  const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/containerops/crew/v1/crew.proto'), {
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
  });
  const v1 = (grpc.loadPackageDefinition(definition) as any).containerops.crew.v1;
  for (const service of SERVICES) clients[service] = new v1[service](crew.service.grpcAddress, grpc.credentials.createInsecure());
});

afterAll(async () => {
  for (const client of Object.values(clients)) client?.close();
  await crew?.close();
});

describe('UserService', () => {
  it('creates, gets and lists users as a platform administrator, and tells the caller who they are', async () => {
    const created = await invoke('UserService', 'CreateUser', { username: 'grace', password: 'grace-long-passphrase', email: 'grace@example.com' }, admin);
    expect(created).toMatchObject({ username: 'grace', email: 'grace@example.com' });
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await invoke('UserService', 'GetUser', { username: 'grace' }, users.mike.token)).toEqual(created);
    const list = await invoke('UserService', 'ListUsers', {}, users.mike.token);
    expect(list.items.map((user: { username: string }) => user.username)).toEqual(expect.arrayContaining(['admin', 'grace', 'mike']));
    expect(JSON.stringify(list)).not.toMatch(/password|scrypt/i);
    const me = await invoke('UserService', 'GetMe', {}, users.mike.token);
    expect(me).toMatchObject({ id: users.mike.id, username: 'mike' });
    expect(me.bindings).toEqual([{ role: 'member', org: 'acme', project: 'web' }]);
  });

  it('refuses: no credentials, a caller who is not a platform administrator, a missing user, bad input', async () => {
    expect(await refusal(invoke('UserService', 'GetMe', {}))).toMatchObject({ code: grpc.status.UNAUTHENTICATED, errorCode: 'AUTH.UNAUTHENTICATED' });
    expect(await refusal(invoke('UserService', 'GetMe', {}, 'not-a-token'))).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const request = { username: 'eve', password: 'eve-long-passphrase', email: 'eve@example.com' };
    expect(await refusal(invoke('UserService', 'CreateUser', request, users.oscar.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      errorCode: 'AUTH.FORBIDDEN',
    });
    expect(await refusal(invoke('UserService', 'GetUser', { username: 'nobody' }, admin))).toMatchObject({ code: grpc.status.NOT_FOUND, errorCode: 'USER.NOT_FOUND' });
    expect(await refusal(invoke('UserService', 'CreateUser', { ...request, username: 'Eve!' }, admin))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'USER.INVALID_NAME',
    });
    const tooLong = await refusal(invoke('UserService', 'CreateUser', { ...request, email: `${'e'.repeat(300)}@example.com` }, admin));
    expect(tooLong).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'REQUEST.INVALID' });
    expect(tooLong.message).toContain('email');
  });
});

describe('TenancyService', () => {
  it('creates and reads organizations and projects with the access of REST', async () => {
    const org = await invoke('TenancyService', 'CreateOrganization', { name: 'initech', description: 'Printers' }, admin);
    expect(org).toMatchObject({ name: 'initech', description: 'Printers' });
    expect(await invoke('TenancyService', 'GetOrganization', { org: 'initech' }, admin)).toEqual(org);
    const seen = await invoke('TenancyService', 'ListOrganizations', {}, users.oscar.token);
    expect(seen.items.map((item: { name: string }) => item.name)).toEqual(['acme']);
    const project = await invoke('TenancyService', 'CreateProject', { org: 'acme', name: 'api', description: '' }, users.oscar.token);
    expect(project).toMatchObject({ org: 'acme', name: 'api', path: 'acme/api' });
    expect(await invoke('TenancyService', 'GetProject', { org: 'acme', project: 'api' }, users.oscar.token)).toEqual(project);
    const projects = await invoke('TenancyService', 'ListProjects', { org: 'acme' }, users.oscar.token);
    expect(projects.items.map((item: { name: string }) => item.name)).toEqual(['api', 'web']);
    const mikes = await invoke('TenancyService', 'ListProjects', { org: 'acme' }, users.mike.token);
    expect(mikes.items.map((item: { name: string }) => item.name)).toEqual(['web']);
  });

  it('manages organization and project members', async () => {
    const added = await invoke('TenancyService', 'AddOrganizationMember', { org: 'acme', username: 'grace', role: 'viewer' }, users.oscar.token);
    expect(added).toMatchObject({ username: 'grace', role: 'viewer', org: 'acme', project: '' });
    expect(await invoke('TenancyService', 'SetOrganizationMemberRole', { org: 'acme', username: 'grace', role: 'member' }, users.oscar.token)).toMatchObject({
      role: 'member',
    });
    const members = await invoke('TenancyService', 'ListOrganizationMembers', { org: 'acme' }, users.mike.token);
    expect(members.items.map((member: { username: string; role: string }) => `${member.username}:${member.role}`)).toEqual(
      expect.arrayContaining(['oscar:org-admin', 'grace:member']),
    );
    expect(await invoke('TenancyService', 'RemoveOrganizationMember', { org: 'acme', username: 'grace' }, users.oscar.token)).toEqual({});

    const inProject = await invoke('TenancyService', 'AddProjectMember', { org: 'acme', project: 'web', username: 'grace', role: 'viewer' }, users.oscar.token);
    expect(inProject).toMatchObject({ username: 'grace', role: 'viewer', org: 'acme', project: 'web' });
    await invoke('TenancyService', 'SetProjectMemberRole', { org: 'acme', project: 'web', username: 'grace', role: 'project-admin' }, users.oscar.token);
    const projectMembers = await invoke('TenancyService', 'ListProjectMembers', { org: 'acme', project: 'web' }, users.mike.token);
    expect(projectMembers.items.map((member: { username: string; role: string }) => `${member.username}:${member.role}`).sort()).toEqual([
      'grace:project-admin',
      'mike:member',
    ]);
    await invoke('TenancyService', 'RemoveProjectMember', { org: 'acme', project: 'web', username: 'grace' }, users.oscar.token);
    const after = await invoke('TenancyService', 'ListProjectMembers', { org: 'acme', project: 'web' }, users.mike.token);
    expect(after.items.map((member: { username: string }) => member.username)).toEqual(['mike']);
  });

  it('grants and revokes platform administration (platform administrators only)', async () => {
    const granted = await invoke('TenancyService', 'GrantPlatformAdmin', { username: 'grace' }, admin);
    expect(granted).toMatchObject({ username: 'grace', role: 'platform-admin', org: '', project: '' });
    const admins = await invoke('TenancyService', 'ListPlatformAdmins', {}, admin);
    expect(admins.items.map((member: { username: string }) => member.username).sort()).toEqual(['admin', 'grace']);
    expect(await invoke('TenancyService', 'RevokePlatformAdmin', { username: 'grace' }, admin)).toEqual({});
    expect(await refusal(invoke('TenancyService', 'ListPlatformAdmins', {}, users.oscar.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      errorCode: 'AUTH.FORBIDDEN',
    });
  });

  it('hides other organizations (NOT_FOUND), refuses what the role does not allow (PERMISSION_DENIED) and bad names (INVALID_ARGUMENT)', async () => {
    for (const [method, request] of [
      ['GetOrganization', { org: 'globex' }],
      ['ListProjects', { org: 'globex' }],
      ['ListOrganizationMembers', { org: 'globex' }],
      ['AddOrganizationMember', { org: 'globex', username: 'mike', role: 'viewer' }],
      ['CreateProject', { org: 'globex', name: 'sneaky', description: '' }],
    ] as const) {
      expect([method, await refusal(invoke('TenancyService', method, request, users.oscar.token))]).toMatchObject([
        method,
        { code: grpc.status.NOT_FOUND, errorCode: 'ORG.NOT_FOUND' },
      ]);
    }
    expect(await refusal(invoke('TenancyService', 'GetProject', { org: 'acme', project: 'nothing' }, users.oscar.token))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      errorCode: 'PROJECT.NOT_FOUND',
    });
    expect(await refusal(invoke('TenancyService', 'AddProjectMember', { org: 'acme', project: 'web', username: 'grace', role: 'viewer' }, users.mike.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      errorCode: 'AUTH.FORBIDDEN',
    });
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'hooli', description: '' }, users.oscar.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'Bad Name', description: '' }, admin))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'ORG.INVALID_NAME',
    });
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'hooli', description: 'd'.repeat(501) }, admin))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'REQUEST.INVALID',
    });
    expect(await refusal(invoke('TenancyService', 'ListOrganizations', {}))).toMatchObject({ code: grpc.status.UNAUTHENTICATED, errorCode: 'AUTH.UNAUTHENTICATED' });
  });
});

describe('RoleService', () => {
  const definition = {
    name: 'gatekeeper',
    description: 'Views and runs workflows',
    level: 'project',
    rules: [{ resource: 'workflow', actions: ['view', 'run'], scope: 'all', projects: [] }],
  };

  it('lists roles to everyone; platform administrators define and delete custom roles', async () => {
    const roles = await invoke('RoleService', 'ListRoles', {}, users.mike.token);
    expect(roles.items.map((role: { name: string }) => role.name)).toEqual(expect.arrayContaining(['platform-admin', 'org-admin', 'viewer']));
    expect(await invoke('RoleService', 'GetRole', { name: 'viewer' }, users.mike.token)).toMatchObject({ built_in: true, level: 'project' });
    const defined = await invoke('RoleService', 'DefineRole', definition, admin);
    expect(defined).toMatchObject({ name: 'gatekeeper', level: 'project', built_in: false, rules: [{ resource: 'workflow', actions: ['view', 'run'], scope: 'all', projects: [] }] });
    expect(await invoke('RoleService', 'GetRole', { name: 'gatekeeper' }, users.mike.token)).toEqual(defined);
    expect(await refusal(invoke('RoleService', 'DefineRole', definition, admin))).toMatchObject({ code: grpc.status.ABORTED, errorCode: 'ROLE.ALREADY_EXISTS' });
    expect(await invoke('RoleService', 'DeleteRole', { name: 'gatekeeper' }, admin)).toEqual({});
    expect(await refusal(invoke('RoleService', 'GetRole', { name: 'gatekeeper' }, admin))).toMatchObject({ code: grpc.status.NOT_FOUND, errorCode: 'ROLE.NOT_FOUND' });
  });

  it('refuses definitions by others and definitions outside the action catalog', async () => {
    expect(await refusal(invoke('RoleService', 'DefineRole', definition, users.oscar.token))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, errorCode: 'AUTH.FORBIDDEN' });
    const bad = { ...definition, rules: [{ resource: 'workflow', actions: ['destroy'], scope: 'all', projects: [] }] };
    expect(await refusal(invoke('RoleService', 'DefineRole', bad, admin))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'ROLE.INVALID_RULE' });
    expect(await refusal(invoke('RoleService', 'DefineRole', { ...definition, level: 'galaxy' }, admin))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'ROLE.INVALID_LEVEL',
    });
  });
});

describe('TokenService', () => {
  it('creates, lists, gets and revokes the caller’s tokens; a token authenticates gRPC calls', async () => {
    const issued = await invoke('TokenService', 'CreateToken', { name: 'ci', scopes: { actions: ['workflow:view'], projects: ['acme/web'] }, expires_in_days: 7 }, users.mike.token);
    expect(issued).toMatchObject({ name: 'ci', scopes: { actions: ['workflow:view'], projects: ['acme/web'] } });
    expect(issued.token).toMatch(/^cop_/);
    expect(Date.parse(issued.expires_at) - Date.parse(issued.created_at)).toBe(7 * 24 * 3600 * 1000);
    const listed = await invoke('TokenService', 'ListTokens', {}, users.mike.token);
    expect(listed.items).toEqual([expect.objectContaining({ id: issued.id, name: 'ci' })]);
    expect(JSON.stringify(listed)).not.toContain(issued.token);
    expect(await invoke('UserService', 'GetMe', {}, issued.token)).toMatchObject({ username: 'mike' });
    expect((await invoke('TokenService', 'GetToken', { id: issued.id }, users.mike.token)).last_used_at).not.toBe('');

    expect(await refusal(invoke('TokenService', 'ListTokens', {}, issued.token))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, errorCode: 'AUTH.FORBIDDEN' });
    expect(await refusal(invoke('TokenService', 'GetToken', { id: issued.id }, users.oscar.token))).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await invoke('TokenService', 'RevokeToken', { id: issued.id }, users.mike.token)).toEqual({});
    expect(await refusal(invoke('UserService', 'GetMe', {}, issued.token))).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((await invoke('TokenService', 'ListTokens', {}, users.mike.token)).items).toEqual([]);
  });

  it('takes the default expiry and refuses bad input', async () => {
    const issued = await invoke('TokenService', 'CreateToken', { name: 'default' }, users.oscar.token);
    expect(issued.scopes).toEqual({ actions: [], projects: [] });
    expect(Date.parse(issued.expires_at) - Date.parse(issued.created_at)).toBe(90 * 24 * 3600 * 1000);
    await invoke('TokenService', 'RevokeToken', { id: issued.id }, users.oscar.token);
    expect(await refusal(invoke('TokenService', 'CreateToken', { name: 'x', expires_in_days: 400 }, users.oscar.token))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'TOKEN.INVALID_EXPIRY',
    });
    expect(await refusal(invoke('TokenService', 'CreateToken', { name: 'x', scopes: { actions: ['workflow:fly'] } }, users.oscar.token))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'TOKEN.INVALID_SCOPE',
    });
    expect(await refusal(invoke('TokenService', 'CreateToken', { name: 'n'.repeat(65) }, users.oscar.token))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(await refusal(invoke('TokenService', 'CreateToken', { name: 'x' }))).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });
});

describe('QuotaService', () => {
  it('sets and reads organization and project limits', async () => {
    const set = await invoke('QuotaService', 'SetOrganizationQuotas', { org: 'acme', limits: { max_workflows: { limit: 5 }, max_concurrent_runs: { unlimited: true } } }, admin);
    expect(set.limits).toMatchObject({ max_workflows: 5 });
    expect(set.limits.max_concurrent_runs).toBeUndefined();
    expect(set.usage).toEqual({ workflows: 0, concurrent_runs: 0, registry_bytes: 0 });
    const project = await invoke('QuotaService', 'SetProjectQuotas', { org: 'acme', project: 'web', limits: { max_workflows: { limit: 0 } } }, admin);
    expect(project.limits).toMatchObject({ max_workflows: 0 });
    const quotas = await invoke('QuotaService', 'GetQuotas', { org: 'acme' }, users.oscar.token);
    expect(quotas).toMatchObject({ name: 'acme', limits: { max_workflows: 5 } });
    expect(quotas.projects.find((entry: { project: string }) => entry.project === 'web')).toMatchObject({ limits: { max_workflows: 0 } });
  });

  it('hides other organizations, refuses those without quota:edit and bad limits', async () => {
    expect(await refusal(invoke('QuotaService', 'GetQuotas', { org: 'globex' }, users.oscar.token))).toMatchObject({ code: grpc.status.NOT_FOUND, errorCode: 'ORG.NOT_FOUND' });
    expect(await refusal(invoke('QuotaService', 'SetProjectQuotas', { org: 'acme', project: 'web', limits: {} }, users.oscar.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      errorCode: 'AUTH.FORBIDDEN',
    });
    expect(await refusal(invoke('QuotaService', 'SetOrganizationQuotas', { org: 'acme', limits: {} }, users.mike.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      errorCode: 'AUTH.FORBIDDEN',
    });
    const negative = await refusal(invoke('QuotaService', 'SetOrganizationQuotas', { org: 'acme', limits: { max_workflows: { limit: -1 } } }, admin));
    expect(negative).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'REQUEST.INVALID' });
    expect(negative.message).toContain('maxWorkflows must be a whole number from 0');
  });
});

describe('AuditService', () => {
  it('lists audit records, gRPC calls included, to platform administrators; refuses others and bad ranges', async () => {
    const found = await eventually(async () => {
      const page = await invoke('AuditService', 'ListAuditRecords', { action: 'organization:create', page_size: 200 }, admin);
      return page.items.find((record: any) => record.transport === 'grpc' && record.target.fields.name === 'initech');
    }, 15_000, 'the audit record of CreateOrganization');
    expect(found).toMatchObject({
      service: 'crew',
      outcome: 'success',
      status: 200,
      operation: 'TenancyService/CreateOrganization',
      actor: { kind: 'user', username: 'admin' },
    });
    expect(await refusal(invoke('AuditService', 'ListAuditRecords', {}, users.mike.token))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, errorCode: 'AUTH.FORBIDDEN' });
    expect(await refusal(invoke('AuditService', 'ListAuditRecords', { org: 'globex' }, users.oscar.token))).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await refusal(invoke('AuditService', 'ListAuditRecords', { since: 'yesterday' }, admin))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'REQUEST.INVALID' });
    expect(
      await refusal(invoke('AuditService', 'ListAuditRecords', { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, admin)),
    ).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'AUDIT.INVALID_RANGE' });
    expect(await refusal(invoke('AuditService', 'ListAuditRecords', { page_size: 201 }, admin))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});

describe('audit of refused gRPC calls', () => {
  async function auditRecord(name: string, errorCode: string) {
    return eventually(async () => {
      const answer = await call(crew.url, 'GET', '/api/v1/audit?action=organization:create&pageSize=200', undefined, bearer(admin));
      expect(answer.status).toBe(200);
      return answer.body.items.find((record: any) => record.transport === 'grpc' && record.target?.fields?.name === name && record.errorCode === errorCode);
    }, 15_000, `the audit record of the refused creation of ${name}`);
  }

  it('records a call the auth guard refuses (UNAUTHENTICATED) before any handler ran', async () => {
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'no-credentials', description: '' }))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'forged-token', description: '' }, 'forged'))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    for (const name of ['no-credentials', 'forged-token']) {
      expect(await auditRecord(name, 'AUTH.UNAUTHENTICATED')).toMatchObject({
        service: 'crew',
        actor: { kind: 'anonymous' },
        action: 'organization:create',
        operation: 'TenancyService/CreateOrganization',
        outcome: 'failure',
        status: 401,
      });
    }
  });

  it('records a call refused with PERMISSION_DENIED', async () => {
    expect(await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'not-allowed', description: '' }, users.mike.token))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    expect(await auditRecord('not-allowed', 'AUTH.FORBIDDEN')).toMatchObject({
      actor: { kind: 'user', username: 'mike' },
      outcome: 'failure',
      status: 403,
    });
  });

  it('does not record reading calls the auth guard refuses', async () => {
    await refusal(invoke('TenancyService', 'GetOrganization', { org: 'acme' }));
    await refusal(invoke('TenancyService', 'CreateOrganization', { name: 'marker', description: '' }));
    await auditRecord('marker', 'AUTH.UNAUTHENTICATED');
    const answer = await call(crew.url, 'GET', '/api/v1/audit?action=organization:view&pageSize=200', undefined, bearer(admin));
    expect(answer.body.items.filter((record: any) => record.transport === 'grpc')).toEqual([]);
  });
});
