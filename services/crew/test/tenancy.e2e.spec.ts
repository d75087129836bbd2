import { startService } from '@co/service-kit';
import { uniqueName, withEnvironment } from '../../../test/support/infra';
import { testServiceConfig } from '../../../test/support/services';
import { crewService } from '../src/crew.service';
import { bearer, call, createOrgWithMembers, createUser, login, startCrew, TEST_ADMIN_PASSWORD, type TestCrew, type TestUser } from './support/crew';

/** Organizations, projects, memberships, roles and what each caller sees, over REST. */

jest.setTimeout(120_000);

describe('crew: tenancy over REST', () => {
  let crew: TestCrew;
  let admin: string;
  let users: Record<string, TestUser>;

  const as = (token: string) => ({
    get: (path: string) => call(crew.url, 'GET', path, undefined, bearer(token)),
    post: (path: string, body: unknown) => call(crew.url, 'POST', path, body, bearer(token)),
    put: (path: string, body?: unknown) => call(crew.url, 'PUT', path, body ?? {}, bearer(token)),
    delete: (path: string) => call(crew.url, 'DELETE', path, undefined, bearer(token)),
  });

  beforeAll(async () => {
    crew = await startCrew();
    admin = await login(crew, 'admin', crew.adminPassword!);
    users = {
      ...(await createOrgWithMembers(crew, admin, 'acme', {
        members: { oscar: 'org-admin' },
        projects: { web: { paula: 'project-admin', mike: 'member', vera: 'viewer' }, api: {} },
      })),
      ...(await createOrgWithMembers(crew, admin, 'globex', { projects: { shop: { gina: 'project-admin' } } })),
    };
    users.nora = await createUser(crew, admin, 'nora');
  });
  afterAll(async () => {
    await crew?.close();
  });

  it('bootstraps organization default, project default/admin, and admin as platform administrator', async () => {
    expect((await as(admin).get('/api/v1/orgs/default')).body).toMatchObject({ name: 'default' });
    expect((await as(admin).get('/api/v1/orgs/default/projects/admin')).body).toMatchObject({ org: 'default', name: 'admin', path: 'default/admin' });
    const admins = await as(admin).get('/api/v1/platform/admins');
    expect(admins.body.items.map((item: { username: string }) => item.username)).toEqual(['admin']);
    const me = await as(admin).get('/api/v1/me');
    expect(me.body).toMatchObject({ username: 'admin', bindings: [{ role: 'platform-admin' }] });
  });

  it('shows a user their bindings at /me', async () => {
    const me = await as(users.paula.token).get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.bindings).toEqual([{ role: 'project-admin', org: 'acme', project: 'web' }]);
  });

  it('validates organization and project names as slugs, and keeps them unique', async () => {
    for (const name of ['Acme', 'a', 'acme_corp', '-acme', 'acme-', 'ac--me', '1acme', 'a'.repeat(64)]) {
      const answer = await as(admin).post('/api/v1/orgs', { name });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('ORG.INVALID_NAME');
    }
    expect((await as(admin).post('/api/v1/orgs', { name: 'a'.repeat(63) })).status).toBe(201);
    const taken = await as(admin).post('/api/v1/orgs', { name: 'acme' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('ORG.ALREADY_EXISTS');
    // The official components' workspace belongs to the platform, not to an organization.
    const reserved = await as(admin).post('/api/v1/orgs', { name: 'official' });
    expect(reserved.status).toBe(409);
    expect(reserved.body.error.code).toBe('ORG.NAME_RESERVED');
    const badProject = await as(admin).post('/api/v1/orgs/acme/projects', { name: 'Web' });
    expect(badProject.status).toBe(400);
    expect(badProject.body.error.code).toBe('PROJECT.INVALID_NAME');
    const takenProject = await as(admin).post('/api/v1/orgs/acme/projects', { name: 'web' });
    expect(takenProject.status).toBe(409);
    expect(takenProject.body.error.code).toBe('PROJECT.ALREADY_EXISTS');
    // The same project name in another organization is another project.
    expect((await as(admin).post('/api/v1/orgs/globex/projects', { name: 'web' })).status).toBe(201);
    const extra = await as(admin).post('/api/v1/orgs', { name: 'initech', owner: 'me' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe('REQUEST.INVALID');
  });

  it('lets only platform administrators create organizations, and organization administrators projects', async () => {
    const refused = await as(users.oscar.token).post('/api/v1/orgs', { name: 'oscars' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('AUTH.FORBIDDEN');
    expect((await as(users.oscar.token).post('/api/v1/orgs/acme/projects', { name: 'docs' })).status).toBe(201);
    const paula = await as(users.paula.token).post('/api/v1/orgs/acme/projects', { name: 'blog' });
    expect(paula.status).toBe(403);
    expect(paula.body.error.message).toContain('project-admin of acme/web');
    expect((await as(users.oscar.token).post('/api/v1/orgs/globex/projects', { name: 'docs' })).status).toBe(404);
  });

  it('lists only the organizations and projects a user belongs to (all of them for a platform administrator)', async () => {
    const names = (answer: { body: { items: { name: string }[] } }) => answer.body.items.map((item) => item.name);
    expect(names(await as(users.mike.token).get('/api/v1/orgs'))).toEqual(['acme']);
    expect(names(await as(users.gina.token).get('/api/v1/orgs'))).toEqual(['globex']);
    expect(names(await as(users.nora.token).get('/api/v1/orgs'))).toEqual([]);
    expect(names(await as(admin).get('/api/v1/orgs'))).toEqual(expect.arrayContaining(['acme', 'default', 'globex']));
    expect(names(await as(users.mike.token).get('/api/v1/orgs/acme/projects'))).toEqual(['web']);
    expect(names(await as(users.oscar.token).get('/api/v1/orgs/acme/projects'))).toEqual(['api', 'docs', 'web']);
    expect(names(await as(admin).get('/api/v1/orgs/acme/projects'))).toEqual(['api', 'docs', 'web']);
  });

  it("answers another organization's organization, projects and members with 404, a visible but forbidden one with 403", async () => {
    const mike = as(users.mike.token);
    for (const path of ['/api/v1/orgs/globex', '/api/v1/orgs/globex/projects', '/api/v1/orgs/globex/projects/shop', '/api/v1/orgs/globex/members', '/api/v1/orgs/globex/projects/shop/members', '/api/v1/orgs/no-such-org']) {
      const answer = await mike.get(path);
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 404, 'ORG.NOT_FOUND']);
    }
    const member = await mike.post('/api/v1/orgs/globex/projects/shop/members', { username: 'mike', role: 'viewer' });
    expect([member.status, member.body.error.code]).toEqual([404, 'ORG.NOT_FOUND']);
    const missing = await mike.get('/api/v1/orgs/acme/projects/no-such-project');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'PROJECT.NOT_FOUND']);
    const forbidden = await mike.get('/api/v1/orgs/acme/projects/api');
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    expect(forbidden.body.error.message).toContain('member of acme/web');
    expect((await mike.get('/api/v1/orgs/acme')).status).toBe(200);
    expect((await mike.get('/api/v1/orgs/acme/projects/web/members')).body.items.map((m: { username: string }) => m.username)).toEqual(['mike', 'paula', 'vera']);
  });

  it('adds, changes and removes members with stable errors', async () => {
    const oscar = as(users.oscar.token);
    const added = await oscar.post('/api/v1/orgs/acme/projects/api/members', { username: 'nora', role: 'viewer' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ username: 'nora', role: 'viewer', org: 'acme', project: 'api' });
    const again = await oscar.post('/api/v1/orgs/acme/projects/api/members', { username: 'nora', role: 'member' });
    expect([again.status, again.body.error.code]).toEqual([409, 'MEMBER.ALREADY_EXISTS']);
    const changed = await oscar.put('/api/v1/orgs/acme/projects/api/members/nora', { role: 'member' });
    expect([changed.status, changed.body.role]).toEqual([200, 'member']);
    expect((await as(users.nora.token).get('/api/v1/me')).body.bindings).toEqual([{ role: 'member', org: 'acme', project: 'api' }]);
    const unknownRole = await oscar.put('/api/v1/orgs/acme/projects/api/members/nora', { role: 'superuser' });
    expect([unknownRole.status, unknownRole.body.error.code]).toEqual([400, 'MEMBER.INVALID_ROLE']);
    const unknownUser = await oscar.post('/api/v1/orgs/acme/members', { username: 'nobody-here', role: 'viewer' });
    expect([unknownUser.status, unknownUser.body.error.code]).toEqual([404, 'USER.NOT_FOUND']);
    expect((await oscar.delete('/api/v1/orgs/acme/projects/api/members/nora')).status).toBe(204);
    const gone = await oscar.delete('/api/v1/orgs/acme/projects/api/members/nora');
    expect([gone.status, gone.body.error.code]).toEqual([404, 'MEMBER.NOT_FOUND']);
    expect((await as(users.nora.token).get('/api/v1/orgs')).body.items).toEqual([]);
  });

  it('lets a project administrator grant project roles in their project only, never an organization or platform role', async () => {
    const paula = as(users.paula.token);
    const granted = await paula.post('/api/v1/orgs/acme/projects/web/members', { username: 'nora', role: 'member' });
    expect(granted.status).toBe(201);
    expect((await paula.put('/api/v1/orgs/acme/projects/web/members/nora', { role: 'project-admin' })).status).toBe(200);
    for (const role of ['org-admin', 'platform-admin', 'authenticated']) {
      const answer = await paula.put('/api/v1/orgs/acme/projects/web/members/nora', { role });
      expect([role, answer.status, answer.body.error.code]).toEqual([role, 400, 'MEMBER.INVALID_ROLE']);
    }
    const platform = await paula.put('/api/v1/platform/admins/nora');
    expect([platform.status, platform.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    const otherProject = await paula.post('/api/v1/orgs/acme/projects/api/members', { username: 'nora', role: 'viewer' });
    expect([otherProject.status, otherProject.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    const organization = await paula.post('/api/v1/orgs/acme/members', { username: 'nora', role: 'viewer' });
    expect([organization.status, organization.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    const otherOrg = await paula.post('/api/v1/orgs/globex/projects/shop/members', { username: 'nora', role: 'viewer' });
    expect([otherOrg.status, otherOrg.body.error.code]).toEqual([404, 'ORG.NOT_FOUND']);
    const member = await as(users.mike.token).post('/api/v1/orgs/acme/projects/web/members', { username: 'nora', role: 'viewer' });
    expect([member.status, member.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    expect((await paula.delete('/api/v1/orgs/acme/projects/web/members/nora')).status).toBe(204);
  });

  it('lets an organization administrator grant organization and project roles in their organization, never platform-admin', async () => {
    const oscar = as(users.oscar.token);
    expect((await oscar.post('/api/v1/orgs/acme/members', { username: 'nora', role: 'org-admin' })).body).toMatchObject({ role: 'org-admin', org: 'acme' });
    expect((await oscar.put('/api/v1/orgs/acme/members/nora', { role: 'viewer' })).body).toMatchObject({ role: 'viewer' });
    expect((await as(users.nora.token).get('/api/v1/orgs/acme/projects')).body.items).toHaveLength(3);
    expect((await oscar.delete('/api/v1/orgs/acme/members/nora')).status).toBe(204);
    const platform = await oscar.put('/api/v1/platform/admins/nora');
    expect([platform.status, platform.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    const viaOrg = await oscar.post('/api/v1/orgs/acme/members', { username: 'nora', role: 'platform-admin' });
    expect([viaOrg.status, viaOrg.body.error.code]).toEqual([400, 'MEMBER.INVALID_ROLE']);
    expect((await oscar.post('/api/v1/orgs/globex/members', { username: 'nora', role: 'viewer' })).status).toBe(404);
  });

  it('lets only platform administrators grant and revoke platform-admin, keeping the last one', async () => {
    const granted = await as(admin).put('/api/v1/platform/admins/nora');
    expect([granted.status, granted.body.role]).toEqual([200, 'platform-admin']);
    expect((await as(admin).put('/api/v1/platform/admins/nora')).status).toBe(200);
    const nora = await login(crew, 'nora', users.nora.password);
    expect((await as(nora).post('/api/v1/orgs', { name: 'noras' })).status).toBe(201);
    expect((await as(nora).get('/api/v1/orgs/globex/projects/shop')).status).toBe(200);
    expect((await as(admin).delete('/api/v1/platform/admins/nora')).status).toBe(204);
    expect((await as(nora).post('/api/v1/orgs', { name: 'noras-two' })).status).toBe(403);
    const last = await as(admin).delete('/api/v1/platform/admins/admin');
    expect([last.status, last.body.error.code]).toEqual([409, 'PLATFORM.LAST_ADMIN']);
    expect((await as(users.mike.token).get('/api/v1/platform/admins')).status).toBe(403);
  });

  it('lists roles to everyone; platform administrators define and delete custom roles checked against the action catalog', async () => {
    const roles = await as(users.mike.token).get('/api/v1/roles');
    expect(roles.status).toBe(200);
    expect(roles.body.items.map((role: { name: string }) => role.name)).toEqual(
      expect.arrayContaining(['platform-admin', 'org-admin', 'project-admin', 'member', 'viewer', 'authenticated']),
    );
    expect((await as(users.mike.token).get('/api/v1/roles/viewer')).body).toMatchObject({ builtIn: true, level: 'project' });
    const definition = {
      name: 'gatekeeper',
      description: 'manages the members of a project',
      level: 'project',
      rules: [
        { resource: 'project', actions: ['view', 'manage-members'], scope: 'joined-projects' },
        { resource: 'organization', actions: ['view'], scope: 'joined-projects' },
      ],
    };
    expect((await as(users.oscar.token).post('/api/v1/roles', definition)).status).toBe(403);
    const bad = await as(admin).post('/api/v1/roles', { ...definition, rules: [{ resource: 'project', actions: ['destroy'], scope: 'all' }] });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'ROLE.INVALID_RULE']);
    expect(bad.body.error.message).toContain('project:destroy is not an action');
    const badScope = await as(admin).post('/api/v1/roles', { ...definition, rules: [{ resource: 'project', actions: ['view'], scope: 'mine' }] });
    expect(badScope.status).toBe(400);
    const builtIn = await as(admin).post('/api/v1/roles', { ...definition, name: 'viewer' });
    expect([builtIn.status, builtIn.body.error.code]).toEqual([409, 'ROLE.BUILT_IN']);
    const created = await as(admin).post('/api/v1/roles', definition);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'gatekeeper', builtIn: false, level: 'project' });
    expect((await as(admin).post('/api/v1/roles', definition)).body.error.code).toBe('ROLE.ALREADY_EXISTS');

    // The custom role works: a gatekeeper of acme/api manages its members.
    expect((await as(users.oscar.token).post('/api/v1/orgs/acme/projects/api/members', { username: 'vera', role: 'gatekeeper' })).status).toBe(201);
    const vera = await login(crew, 'vera', users.vera.password);
    expect((await as(vera).post('/api/v1/orgs/acme/projects/api/members', { username: 'nora', role: 'viewer' })).status).toBe(201);
    expect((await as(vera).post('/api/v1/orgs/acme/projects/web/members', { username: 'nora', role: 'viewer' })).status).toBe(403);

    const inUse = await as(admin).delete('/api/v1/roles/gatekeeper');
    expect([inUse.status, inUse.body.error.code]).toEqual([409, 'ROLE.IN_USE']);
    expect((await as(admin).delete('/api/v1/roles/viewer')).body.error.code).toBe('ROLE.BUILT_IN');
    expect((await as(users.oscar.token).delete('/api/v1/orgs/acme/projects/api/members/vera')).status).toBe(204);
    expect((await as(admin).delete('/api/v1/roles/gatekeeper')).status).toBe(204);
    expect((await as(admin).get('/api/v1/roles/gatekeeper')).body.error.code).toBe('ROLE.NOT_FOUND');
  });

  it('lets signed-in users list users; only platform administrators create them', async () => {
    const list = await as(users.mike.token).get('/api/v1/users');
    expect(list.status).toBe(200);
    expect(list.body.items.map((user: { username: string }) => user.username)).toEqual(expect.arrayContaining(['admin', 'mike', 'oscar']));
    expect(JSON.stringify(list.body)).not.toMatch(/password|scrypt/i);
    const create = await as(users.oscar.token).post('/api/v1/users', { username: 'eve', password: 'eve-long-passphrase', email: 'eve@example.com' });
    expect([create.status, create.body.error.code]).toEqual([403, 'AUTH.FORBIDDEN']);
    expect((await call(crew.url, 'GET', '/api/v1/orgs')).status).toBe(401);
  });

  it('bootstraps once: a second replica on the same database adds nothing', async () => {
    const replica = await startCrew({}, crew);
    try {
      const events = await crew.service.runtime.db.query<{ type: string }[]>(
        "SELECT type FROM co_events WHERE stream_id IN ('organization-default', 'platform-bindings') ORDER BY position",
      );
      expect(events.map((event) => event.type).filter((type) => type !== 'PlatformRoleRevoked')).toEqual([
        'OrganizationCreated',
        'ProjectCreated',
        'PlatformRoleGranted',
        'PlatformRoleGranted',
      ]);
      const adminOnReplica = await login(replica, 'admin', crew.adminPassword!);
      expect((await call(replica.url, 'GET', '/api/v1/platform/admins', undefined, bearer(adminOnReplica))).body.items).toHaveLength(1);
    } finally {
      await replica.close();
    }
  });
});

describe('crew: tenancy on SQLite (standalone)', () => {
  it('bootstraps, creates, binds and decides the same way', async () => {
    const { config, cleanup } = await testServiceConfig('crew', 'standalone', { CO_SUBJECT_PREFIX: uniqueName('t') });
    const service = await withEnvironment({ CO_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD }, () => startService(crewService, config));
    try {
      const crew = { url: service.httpUrl } as TestCrew;
      const admin = await login(crew, 'admin', TEST_ADMIN_PASSWORD);
      const users = await createOrgWithMembers(crew, admin, 'acme', { projects: { web: { mike: 'member' } } });
      const orgs = await call(crew.url, 'GET', '/api/v1/orgs', undefined, bearer(users.mike.token));
      expect(orgs.body.items.map((org: { name: string }) => org.name)).toEqual(['acme']);
      expect((await call(crew.url, 'GET', '/api/v1/orgs/default/projects/admin', undefined, bearer(admin))).status).toBe(200);
      expect((await call(crew.url, 'GET', '/api/v1/orgs/default', undefined, bearer(users.mike.token))).status).toBe(404);
      expect((await call(crew.url, 'PUT', '/api/v1/orgs/acme/projects/web/members/mike', { role: 'viewer' }, bearer(admin))).body.role).toBe('viewer');
    } finally {
      await service.close();
      await cleanup();
    }
  });
});
