import { call, startCrew, type TestCrew } from './support/crew';
import { accessToken, addMember, ADMIN_PASSWORD, basic, bearer, createProject, createUser, ok } from './support-tokens/tokens';

/** Personal API tokens: issue, list, use (Bearer and Basic), expiry, revocation, scopes. */
describe('crew: personal API tokens', () => {
  let crew: TestCrew;
  let admin: Record<string, string>;
  let alice: Record<string, string>;
  let aliceId: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD });
    admin = bearer(await accessToken(crew, 'admin'));
    aliceId = await createUser(crew, admin, 'alice');
    await createUser(crew, admin, 'bob');
    await createProject(crew, admin, 'acme', 'web');
    await addMember(crew, admin, 'acme', 'web', 'alice', 'project-admin');
    alice = bearer(await accessToken(crew, 'alice'));
  });
  afterAll(async () => {
    await crew?.close();
  });

  it('creates a token shown once, lists it without the secret, and keeps only its sha256', async () => {
    const created = await call(crew.url, 'POST', '/api/v1/tokens', { name: 'laptop', scopes: { actions: ['workflow:view', 'image:pull'] } }, alice);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'laptop',
      token: expect.stringMatching(/^cop_[A-Za-z0-9_-]{43}$/),
      scopes: { actions: ['image:pull', 'workflow:view'] },
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    const days = (Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt)) / 86_400_000;
    expect(days).toBe(90);

    const listed = await call(crew.url, 'GET', '/api/v1/tokens', undefined, alice);
    expect(listed.status).toBe(200);
    const entry = listed.body.items.find((item: { id: string }) => item.id === created.body.id);
    const { token, ...withoutSecret } = created.body;
    secrets.push(token);
    expect(entry).toEqual({ ...withoutSecret, lastUsedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(token);
    const one = await call(crew.url, 'GET', `/api/v1/tokens/${created.body.id}`, undefined, alice);
    expect(one.body).toEqual(entry);

    const rows = await crew.service.runtime.db.query<{ token_hash: string }[]>('SELECT token_hash FROM crew_api_tokens WHERE id = ?', [created.body.id]);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    const events = await crew.service.runtime.db.query<{ type: string; data: string }[]>('SELECT type, data FROM co_events WHERE stream_id = ?', [
      `apitoken-${created.body.id}`,
    ]);
    expect(events.map((event) => event.type)).toEqual(['ApiTokenIssued']);
    expect(events[0].data).not.toContain(token);
    expect(events[0].data).not.toContain(rows[0].token_hash);
  });

  it('authenticates as Bearer on /me and on a tenancy endpoint, and as Basic password; records lastUsedAt', async () => {
    const { id, token } = await ok(crew, 'POST', '/api/v1/tokens', { name: 'ci', expiresInDays: 365 }, alice, 201);
    secrets.push(token);
    const me = await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(token));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: aliceId, username: 'alice' });
    const project = await call(crew.url, 'GET', '/api/v1/orgs/acme/projects/web', undefined, bearer(token));
    expect(project.status).toBe(200);
    const viaBasic = await call(crew.url, 'GET', '/api/v1/me', undefined, basic('alice', token));
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.body.username).toBe('alice');
    // Another user's name with alice's token proves nothing.
    const wrongName = await call(crew.url, 'GET', '/api/v1/me', undefined, basic('bob', token));
    expect(wrongName.status).toBe(401);
    const shown = await ok(crew, 'GET', `/api/v1/tokens/${id}`, undefined, alice);
    expect(Date.parse(shown.lastUsedAt)).toBeGreaterThan(0);
  });

  it('refuses an expired token and a revoked one with 401', async () => {
    const expired = await ok(crew, 'POST', '/api/v1/tokens', { name: 'old' }, alice, 201);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(expired.token))).status).toBe(200);
    await crew.service.runtime.db.query('UPDATE crew_api_tokens SET expires_at = ? WHERE id = ?', [new Date(Date.now() - 60_000), expired.id]);
    const afterExpiry = await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(expired.token));
    expect(afterExpiry.status).toBe(401);
    expect(afterExpiry.body.error.code).toBe('AUTH.UNAUTHENTICATED');

    const revoked = await ok(crew, 'POST', '/api/v1/tokens', { name: 'gone' }, alice, 201);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(revoked.token))).status).toBe(200);
    const deleted = await call(crew.url, 'DELETE', `/api/v1/tokens/${revoked.id}`, undefined, alice);
    expect(deleted.status).toBe(204);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(revoked.token))).status).toBe(401);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, basic('alice', revoked.token))).status).toBe(401);
    expect((await call(crew.url, 'GET', `/api/v1/tokens/${revoked.id}`, undefined, alice)).status).toBe(404);
    const listed = await ok(crew, 'GET', '/api/v1/tokens', undefined, alice);
    expect(listed.items.map((item: { id: string }) => item.id)).not.toContain(revoked.id);
    const events = await crew.service.runtime.db.query<{ type: string }[]>('SELECT type FROM co_events WHERE stream_id = ? ORDER BY stream_version', [
      `apitoken-${revoked.id}`,
    ]);
    expect(events.map((event) => event.type)).toEqual(['ApiTokenIssued', 'ApiTokenRevoked']);
  });

  it('narrows the user: a token scoped to workflow:view cannot manage members though its user can', async () => {
    const narrow = await ok(crew, 'POST', '/api/v1/tokens', { name: 'read-only', scopes: { actions: ['workflow:view'] } }, alice, 201);
    const withToken = await call(crew.url, 'POST', '/api/v1/orgs/acme/projects/web/members', { username: 'bob', role: 'viewer' }, bearer(narrow.token));
    expect(withToken.status).toBe(403);
    expect(withToken.body.error.code).toBe('AUTH.FORBIDDEN');
    const withLogin = await call(crew.url, 'POST', '/api/v1/orgs/acme/projects/web/members', { username: 'bob', role: 'viewer' }, alice);
    expect(withLogin.status).toBeLessThan(300);
  });

  it("answers 404 for another user's token, and 403 when a token tries to manage tokens", async () => {
    const own = await ok(crew, 'POST', '/api/v1/tokens', { name: 'mine' }, alice, 201);
    const bob = bearer(await accessToken(crew, 'bob'));
    for (const method of ['GET', 'DELETE']) {
      const answer = await call(crew.url, method, `/api/v1/tokens/${own.id}`, undefined, bob);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('TOKEN.NOT_FOUND');
    }
    expect((await ok(crew, 'GET', '/api/v1/tokens', undefined, bob)).items).toEqual([]);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(own.token))).status).toBe(200);

    const byToken = await call(crew.url, 'POST', '/api/v1/tokens', { name: 'child' }, bearer(own.token));
    expect(byToken.status).toBe(403);
    expect(byToken.body.error.code).toBe('AUTH.FORBIDDEN');
    expect((await call(crew.url, 'GET', '/api/v1/tokens', undefined, bearer(own.token))).status).toBe(403);
    expect((await call(crew.url, 'POST', '/api/v1/tokens', { name: 'anonymous' })).status).toBe(401);
  });

  it('validates names, scopes and lifetimes with stable codes', async () => {
    const cases: [unknown, string][] = [
      [{ name: '' }, 'TOKEN.INVALID_NAME'],
      [{ name: 'x'.repeat(65) }, 'REQUEST.INVALID'],
      [{ name: 'a', scopes: { actions: ['workflow:fly'] } }, 'TOKEN.INVALID_SCOPE'],
      [{ name: 'a', scopes: { actions: [] } }, 'TOKEN.INVALID_SCOPE'],
      [{ name: 'a', scopes: { projects: ['not a project'] } }, 'TOKEN.INVALID_SCOPE'],
      [{ name: 'a', scopes: { other: 1 } }, 'REQUEST.INVALID'],
      [{ name: 'a', expiresInDays: 0 }, 'TOKEN.INVALID_EXPIRY'],
      [{ name: 'a', expiresInDays: 366 }, 'TOKEN.INVALID_EXPIRY'],
      [{ name: 'a', expiresInDays: 1.5 }, 'REQUEST.INVALID'],
    ];
    for (const [body, code] of cases) {
      const answer = await call(crew.url, 'POST', '/api/v1/tokens', body, alice);
      expect({ body, status: answer.status, code: answer.body.error?.code }).toEqual({ body, status: 400, code });
    }
  });

  it('allows at most 50 active tokens per user (409 TOKEN.LIMIT)', async () => {
    const bob = bearer(await accessToken(crew, 'bob'));
    for (let i = 0; i < 50; i++) await ok(crew, 'POST', '/api/v1/tokens', { name: `t${i}` }, bob, 201);
    const over = await call(crew.url, 'POST', '/api/v1/tokens', { name: 'one too many' }, bob);
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('TOKEN.LIMIT');
    const first = (await ok(crew, 'GET', '/api/v1/tokens', undefined, bob)).items[0];
    await ok(crew, 'DELETE', `/api/v1/tokens/${first.id}`, undefined, bob, 204);
    expect((await call(crew.url, 'POST', '/api/v1/tokens', { name: 'fits again' }, bob)).status).toBe(201);
  });

  it('never writes a token secret or its hash to the log', async () => {
    expect(secrets.length).toBeGreaterThan(0);
    const hashes = await crew.service.runtime.db.query<{ token_hash: string }[]>('SELECT token_hash FROM crew_api_tokens');
    const log = crew.logs.join('\n');
    for (const secret of [...secrets, ...hashes.map((row) => row.token_hash)]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/cop_[A-Za-z0-9_-]{43}/);
  });
});
