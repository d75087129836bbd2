import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { eventually } from '../../../test/support/infra';
import { call, startCrew, type TestCrew } from './support/crew';
import { accessToken, addMember, ADMIN_PASSWORD, basic, bearer, createProject, createUser, ok, publishWorkspaceEvent, USER_PASSWORD } from './support-tokens/tokens';

const SERVICE = 'registry.example.test';

/** The registry token service: who gets which image actions, as dockyard's workspaces say. */
describe('crew: registry tokens (Docker token authentication)', () => {
  let crew: TestCrew;

  async function token(scopes: string[], headers: Record<string, string> = {}, service = SERVICE) {
    const query = new URLSearchParams({ service });
    for (const scope of scopes) query.append('scope', scope);
    return call(crew.url, 'GET', `/api/v1/registry/token?${query}`, undefined, headers);
  }

  /** The `access` claim of a token answer (the token itself is verified in its own test). */
  function access(answer: { status: number; body: { token: string } }) {
    expect(answer.status).toBe(200);
    return JSON.parse(Buffer.from(answer.body.token.split('.')[1], 'base64url').toString()).access as unknown[];
  }

  async function workspaceState(name: string) {
    const [row] = await crew.service.runtime.db.query<{ visibility: string; deleted_at: unknown }[]>(
      'SELECT visibility, deleted_at FROM crew_registry_workspaces WHERE name = ?',
      [name],
    );
    return row;
  }

  beforeAll(async () => {
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD });
    const admin = bearer(await accessToken(crew, 'admin'));
    for (const username of ['alice', 'vera', 'olga', 'tina']) await createUser(crew, admin, username);
    await createProject(crew, admin, 'acme', 'web');
    await createProject(crew, admin, 'globex', 'app');
    await addMember(crew, admin, 'acme', 'web', 'alice', 'member');
    await addMember(crew, admin, 'acme', 'web', 'vera', 'viewer');
    await addMember(crew, admin, 'globex', 'app', 'olga', 'project-admin');
    await publishWorkspaceEvent(crew, 'workspace-w1', 1, 'WorkspaceCreated', { workspace: 'acmeweb', org: 'acme', project: 'web', visibility: 'private' });
    await publishWorkspaceEvent(crew, 'workspace-w2', 1, 'WorkspaceCreated', { workspace: 'acmepub', org: 'acme', project: 'web', visibility: 'public' });
    await publishWorkspaceEvent(crew, 'workspace-w3', 1, 'WorkspaceCreated', { workspace: 'globexws', org: 'globex', project: 'app', visibility: 'private' });
    for (const name of ['acmeweb', 'acmepub', 'globexws']) await eventually(() => workspaceState(name), 15_000, `workspace ${name}`);
  });
  afterAll(async () => {
    await crew?.close();
  });

  it('grants the platform administrator and a project member pull and push (Basic with password)', async () => {
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('admin', ADMIN_PASSWORD)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] },
    ]);
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('alice', USER_PASSWORD)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] },
    ]);
    // A member may not delete: `*` is what is allowed of pull, push and delete.
    expect(access(await token(['repository:acmeweb/api:*'], basic('alice', USER_PASSWORD)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] },
    ]);
  });

  it('gives a viewer asking pull,push only pull, and another organization nothing (200 both)', async () => {
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('vera', USER_PASSWORD)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull'] },
    ]);
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('olga', USER_PASSWORD)))).toEqual([]);
    expect(access(await token(['repository:globexws/app:pull,push'], basic('olga', USER_PASSWORD)))).toEqual([
      { type: 'repository', name: 'globexws/app', actions: ['pull', 'push'] },
    ]);
  });

  it('lets anonymous callers pull from a public workspace only', async () => {
    expect(access(await token(['repository:acmepub/site:pull,push']))).toEqual([{ type: 'repository', name: 'acmepub/site', actions: ['pull'] }]);
    expect(access(await token(['repository:acmeweb/api:pull']))).toEqual([]);
    const anonymous = await token(['repository:acmepub/site:pull']);
    expect(JSON.parse(Buffer.from(anonymous.body.token.split('.')[1], 'base64url').toString()).sub).toBe('');
  });

  it('accepts a personal API token as Basic password (narrowed by its scopes) and a Bearer access token', async () => {
    const alice = bearer(await accessToken(crew, 'alice'));
    const full = await ok(crew, 'POST', '/api/v1/tokens', { name: 'podman' }, alice, 201);
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('alice', full.token)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] },
    ]);
    const pullOnly = await ok(crew, 'POST', '/api/v1/tokens', { name: 'pull', scopes: { actions: ['image:pull'] } }, alice, 201);
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('alice', pullOnly.token)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull'] },
    ]);
    const elsewhere = await ok(crew, 'POST', '/api/v1/tokens', { name: 'globex only', scopes: { projects: ['globex/app'] } }, alice, 201);
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('alice', elsewhere.token)))).toEqual([]);
    expect(access(await token(['repository:acmeweb/api:pull,push'], bearer(full.token)))).toEqual([
      { type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] },
    ]);
    expect(access(await token(['repository:acmeweb/api:pull,push'], alice))).toEqual([{ type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] }]);
    // The token is alice's: with another user's name it proves nothing.
    const wrongUser = await token(['repository:acmeweb/api:pull'], basic('vera', full.token));
    expect(wrongUser.status).toBe(401);
  });

  it('answers bad credentials with 401 and a Basic challenge', async () => {
    for (const headers of [basic('alice', 'not-her-password'), basic('nobody-here', 'whatever-password'), basic('alice', `cop_${'A'.repeat(43)}`), bearer('not.a.jwt')]) {
      const answer = await token(['repository:acmepub/site:pull'], headers);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="containerops"');
      expect(answer.body.error.code).toBe('AUTH.INVALID_CREDENTIALS');
      expect(answer.body.token).toBeUndefined();
    }
    // The failure above counted; a right password still works (5 failures block).
    expect((await token(['repository:acmeweb/api:pull'], basic('alice', USER_PASSWORD))).status).toBe(200);
  });

  it('throttles passwords together with logins: 5 failures block both', async () => {
    for (let i = 0; i < 5; i++) expect((await token([], basic('tina', `wrong-password-${i}`))).status).toBe(401);
    const blocked = await token(['repository:acmepub/site:pull'], basic('tina', USER_PASSWORD));
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('AUTH.THROTTLED');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const login = await call(crew.url, 'POST', '/api/v1/auth/login', { username: 'tina', password: USER_PASSWORD });
    expect(login.status).toBe(429);
  });

  it('signs a JWT that verifies against the JWKS, audience the service, with the access claim', async () => {
    const answer = await token(['repository:acmeweb/api:pull,push', 'registry:catalog:*', 'repository:unknownws/x:pull'], basic('alice', USER_PASSWORD));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({ token: expect.any(String), access_token: answer.body.token, expires_in: 300, issued_at: expect.any(String) });
    expect(answer.body.expires_in).toBeGreaterThanOrEqual(60);
    const jwks = await ok(crew, 'GET', '/.well-known/jwks.json', undefined, {});
    const { payload, protectedHeader } = await jwtVerify(answer.body.token, createLocalJWKSet(jwks), { audience: SERVICE, issuer: 'containerops-crew' });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    expect(jwks.keys.map((key: { kid: string }) => key.kid)).toContain(decodeProtectedHeader(answer.body.token).kid);
    expect(payload).toMatchObject({ sub: 'alice', aud: SERVICE, access: [{ type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] }] });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe('string');
    expect(Date.parse(answer.body.issued_at) / 1000).toBe(payload.iat);
    await expect(jwtVerify(answer.body.token, createLocalJWKSet(jwks), { audience: 'containerops' })).rejects.toThrow();
  });

  it('requires a service and refuses crew’s own audience', async () => {
    const missing = await call(crew.url, 'GET', '/api/v1/registry/token?scope=repository:acmepub/site:pull');
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('REGISTRY.INVALID_SERVICE');
    const reserved = await token(['repository:acmepub/site:pull'], {}, 'containerops');
    expect(reserved.status).toBe(400);
  });

  it('follows visibility changes and deletions, ignoring an older event delivered late', async () => {
    await publishWorkspaceEvent(crew, 'workspace-w2', 2, 'WorkspaceVisibilityChanged', { workspace: 'acmepub', visibility: 'private' });
    await eventually(async () => (await workspaceState('acmepub'))?.visibility === 'private', 15_000, 'acmepub private');
    expect(access(await token(['repository:acmepub/site:pull']))).toEqual([]);
    expect(access(await token(['repository:acmepub/site:pull'], basic('vera', USER_PASSWORD)))).toEqual([
      { type: 'repository', name: 'acmepub/site', actions: ['pull'] },
    ]);

    await publishWorkspaceEvent(crew, 'workspace-w1', 2, 'WorkspaceDeleted', { workspace: 'acmeweb' });
    await eventually(async () => (await workspaceState('acmeweb'))?.deleted_at != null, 15_000, 'acmeweb deleted');
    // The creation again (a redelivery): older than the deletion, so it changes nothing.
    await publishWorkspaceEvent(crew, 'workspace-w1', 1, 'WorkspaceCreated', { workspace: 'acmeweb', org: 'acme', project: 'web', visibility: 'public' });
    await publishWorkspaceEvent(crew, 'workspace-w2', 3, 'WorkspaceVisibilityChanged', { workspace: 'acmepub', visibility: 'public' });
    await eventually(async () => (await workspaceState('acmepub'))?.visibility === 'public', 15_000, 'acmepub public again');
    expect(await workspaceState('acmeweb')).toMatchObject({ visibility: 'private' });
    expect(access(await token(['repository:acmeweb/api:pull,push'], basic('admin', ADMIN_PASSWORD)))).toEqual([]);
  });
});
