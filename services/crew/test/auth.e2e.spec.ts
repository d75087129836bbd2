import { randomUUID } from 'node:crypto';
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { call, startCrew, type TestCrew } from './support/crew';

const ADMIN_PASSWORD = 'bootstrap-Admin-pass-42';

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** Headers of the bootstrap administrator (a platform administrator). */
async function asAdmin(crew: TestCrew, password = ADMIN_PASSWORD) {
  const { body } = await login(crew, 'admin', password);
  return bearer(body.accessToken);
}

async function login(crew: TestCrew, username: string, password: string) {
  return call(crew.url, 'POST', '/api/v1/auth/login', { username, password });
}

/** The active private signing key, read from crew's own table (to forge expired / wrong-audience tokens). */
async function activeKey(crew: TestCrew) {
  const [row] = await crew.service.runtime.db.query<{ kid: string; private_jwk: string }[]>(
    'SELECT kid, private_jwk FROM crew_signing_keys WHERE retired_at IS NULL',
  );
  return { kid: row.kid, key: await importJWK(JSON.parse(row.private_jwk) as JWK, 'EdDSA') };
}

function header(token: string) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
}

async function expectUnauthenticated(crew: TestCrew, headers: Record<string, string>, description: RegExp, bearerError = 'invalid_token') {
  const answer = await call(crew.url, 'GET', '/api/v1/me', undefined, headers);
  expect(answer.status).toBe(401);
  expect(answer.body.error.code).toBe('AUTH.UNAUTHENTICATED');
  const challenge = answer.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer realm="containerops"/);
  expect(challenge).toContain(`error="${bearerError}"`);
  expect(challenge).toMatch(description);
}

describe('crew: users and authentication (CO_ADMIN_PASSWORD set)', () => {
  let crew: TestCrew;
  const secrets: string[] = [ADMIN_PASSWORD];

  beforeAll(async () => {
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD });
  });
  afterAll(async () => {
    await crew?.close();
  });

  it('bootstraps admin with CO_ADMIN_PASSWORD; admin logs in and /me names admin', async () => {
    const answer = await login(crew, 'admin', ADMIN_PASSWORD);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ expiresIn: 900, tokenType: 'Bearer' });
    expect(typeof answer.body.accessToken).toBe('string');
    expect(answer.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    secrets.push(answer.body.accessToken, answer.body.refreshToken);
    const me = await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(answer.body.accessToken));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'admin' });
    expect(crew.logs.some((line) => line.includes('generated password'))).toBe(false);
  });

  it('access tokens carry iss, aud, sub, name, iat, exp, jti and a kid', async () => {
    const { body } = await login(crew, 'admin', ADMIN_PASSWORD);
    secrets.push(body.accessToken, body.refreshToken);
    const head = header(body.accessToken);
    expect(head).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    expect(typeof head.kid).toBe('string');
    const claims = JSON.parse(Buffer.from(body.accessToken.split('.')[1], 'base64url').toString());
    const admin = await call(crew.url, 'GET', '/api/v1/users/admin', undefined, await asAdmin(crew));
    expect(claims).toMatchObject({ iss: 'containerops-crew', aud: 'containerops', sub: admin.body.id, name: 'admin' });
    expect(claims.exp - claims.iat).toBe(900);
    expect(typeof claims.jti).toBe('string');
  });

  it('creates a user, shows it without password data, and refuses a duplicate with 409', async () => {
    const password = 'alice-secret-passphrase';
    secrets.push(password);
    const created = await call(crew.url, 'POST', '/api/v1/users', { username: 'alice', password, email: 'alice@example.com' }, await asAdmin(crew));
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), username: 'alice', email: 'alice@example.com', createdAt: expect.any(String) });
    const shown = await call(crew.url, 'GET', '/api/v1/users/alice', undefined, await asAdmin(crew));
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(created.body);
    expect(JSON.stringify(shown.body)).not.toMatch(/password|scrypt|hash/i);

    const duplicate = await call(crew.url, 'POST', '/api/v1/users', { username: 'alice', password: 'another-long-password', email: 'a2@example.com' }, await asAdmin(crew));
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('USER.NAME_TAKEN');

    const missing = await call(crew.url, 'GET', '/api/v1/users/nobody-here', undefined, await asAdmin(crew));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('USER.NOT_FOUND');
  });

  it('validates usernames, passwords and bodies with stable codes', async () => {
    const short = await call(crew.url, 'POST', '/api/v1/users', { username: 'bob', password: 'too-short', email: 'bob@example.com' }, await asAdmin(crew));
    expect(short.status).toBe(400);
    expect(short.body.error.code).toBe('USER.INVALID_PASSWORD');
    expect(short.body.error.message).toMatch(/12 to 128 characters/);

    const same = await call(crew.url, 'POST', '/api/v1/users', { username: 'averylongname', password: 'averylongname', email: 'x@example.com' }, await asAdmin(crew));
    expect(same.status).toBe(400);
    expect(same.body.error.code).toBe('USER.INVALID_PASSWORD');
    expect(same.body.error.message).toMatch(/not be the username/);

    for (const username of ['Bob', 'ab', 'a'.repeat(33), 'bob_smith', '-bob', '1bob']) {
      const answer = await call(crew.url, 'POST', '/api/v1/users', { username, password: 'a-good-long-password', email: 'b@example.com' }, await asAdmin(crew));
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('USER.INVALID_NAME');
    }

    const email = await call(crew.url, 'POST', '/api/v1/users', { username: 'bob', password: 'a-good-long-password', email: 'not-an-email' }, await asAdmin(crew));
    expect(email.status).toBe(400);
    expect(email.body.error.code).toBe('USER.INVALID_EMAIL');

    const incomplete = await call(crew.url, 'POST', '/api/v1/users', { username: 'bob' }, await asAdmin(crew));
    expect(incomplete.status).toBe(400);
    expect(incomplete.body.error.code).toBe('REQUEST.INVALID');

    const extra = await call(crew.url, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD, admin: true });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe('REQUEST.INVALID');
  });

  it('answers a wrong password and an unknown user with the same 401', async () => {
    const wrong = await login(crew, 'admin', 'not-the-admin-password');
    const unknown = await login(crew, 'nobody-at-all', 'not-the-admin-password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error.code).toBe('AUTH.INVALID_CREDENTIALS');
    // A successful login resets admin's counter (the other tests log in as admin again).
    expect((await login(crew, 'admin', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('rotates refresh tokens; reusing a used one revokes the whole family; logout revokes', async () => {
    const first = (await login(crew, 'admin', ADMIN_PASSWORD)).body;
    const second = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect(second.body.accessToken).not.toBe(first.accessToken);
    secrets.push(first.accessToken, first.refreshToken, second.body.accessToken, second.body.refreshToken);
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(second.body.accessToken))).body.username).toBe('admin');

    const third = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: second.body.refreshToken });
    expect(third.status).toBe(200);
    secrets.push(third.body.accessToken, third.body.refreshToken);

    // The first token again: refused, and the family (third's token included) is revoked.
    const reuse = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('AUTH.INVALID_REFRESH_TOKEN');
    const afterReuse = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: third.body.refreshToken });
    expect(afterReuse.status).toBe(401);

    // Another login is another family, untouched by that.
    const other = (await login(crew, 'admin', ADMIN_PASSWORD)).body;
    secrets.push(other.accessToken, other.refreshToken);
    const logout = await call(crew.url, 'POST', '/api/v1/auth/logout', { refreshToken: other.refreshToken });
    expect(logout.status).toBe(204);
    const afterLogout = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: other.refreshToken });
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.body.error.code).toBe('AUTH.INVALID_REFRESH_TOKEN');

    const unknown = await call(crew.url, 'POST', '/api/v1/auth/refresh', { refreshToken: 'A'.repeat(43) });
    expect(unknown.status).toBe(401);
  });

  it('lets only platform administrators create users, and only signed-in callers read them', async () => {
    const body = { username: 'mallory', password: 'mallory-long-passphrase', email: 'mallory@example.com' };
    const anonymous = await call(crew.url, 'POST', '/api/v1/users', body);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="containerops"/);
    const alice = (await login(crew, 'alice', 'alice-secret-passphrase')).body;
    secrets.push(alice.accessToken, alice.refreshToken);
    const member = await call(crew.url, 'POST', '/api/v1/users', body, bearer(alice.accessToken));
    expect(member.status).toBe(403);
    expect(member.body.error.code).toBe('AUTH.FORBIDDEN');
    expect((await call(crew.url, 'GET', '/api/v1/users/alice')).status).toBe(401);
    expect((await call(crew.url, 'GET', '/api/v1/users/admin', undefined, bearer(alice.accessToken))).body.username).toBe('admin');
    expect((await call(crew.url, 'GET', '/api/v1/users/mallory', undefined, await asAdmin(crew))).status).toBe(404);
  });

  it('refuses bad bearer tokens with 401, AUTH.UNAUTHENTICATED and a WWW-Authenticate challenge', async () => {
    const good = (await login(crew, 'admin', ADMIN_PASSWORD)).body;
    secrets.push(good.accessToken, good.refreshToken);
    const admin = (await call(crew.url, 'GET', '/api/v1/users/admin', undefined, await asAdmin(crew))).body;
    const { kid, key } = await activeKey(crew);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, options: { kid?: string; iat?: number; exp?: number; aud?: string } = {}) =>
      new SignJWT({ name: 'admin', ...claims })
        .setProtectedHeader({ alg: 'EdDSA', kid: options.kid ?? kid })
        .setIssuer('containerops-crew')
        .setAudience(options.aud ?? 'containerops')
        .setSubject(admin.id)
        .setJti(randomUUID())
        .setIssuedAt(options.iat ?? now)
        .setExpirationTime(options.exp ?? now + 600)
        .sign(key);

    // The forging helper works: a token it makes with the right settings is accepted.
    expect((await call(crew.url, 'GET', '/api/v1/me', undefined, bearer(await sign({})))).status).toBe(200);

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url')}.${good.accessToken.split('.')[1]}.`;
    await expectUnauthenticated(crew, bearer(none), /algorithm/);

    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const unknownKid = await new SignJWT({ name: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid: randomUUID() })
      .setIssuer('containerops-crew').setAudience('containerops').setSubject(admin.id).setJti(randomUUID()).setIssuedAt().setExpirationTime('10m')
      .sign(stranger.privateKey);
    await expectUnauthenticated(crew, bearer(unknownKid), /unknown key/);

    // Signed by a foreign key that claims crew's kid: the signature does not verify.
    const foreignSameKid = await new SignJWT({ name: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer('containerops-crew').setAudience('containerops').setSubject(admin.id).setJti(randomUUID()).setIssuedAt().setExpirationTime('10m')
      .sign(stranger.privateKey);
    await expectUnauthenticated(crew, bearer(foreignSameKid), /signature/);

    await expectUnauthenticated(crew, bearer(await sign({}, { iat: now - 3600, exp: now - 1800 })), /expired/);
    await expectUnauthenticated(crew, bearer(await sign({}, { aud: 'someone-else' })), /aud/);

    const [h, p, s] = good.accessToken.split('.');
    const flipped = `${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    await expectUnauthenticated(crew, bearer(`${h}.${p}.${flipped}`), /signature/);
    const tamperedClaims = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), name: 'root' })).toString('base64url');
    await expectUnauthenticated(crew, bearer(`${h}.${tamperedClaims}.${s}`), /signature/);

    await expectUnauthenticated(crew, bearer('garbage'), /malformed/);
    await expectUnauthenticated(crew, { authorization: 'Basic YWRtaW46YWRtaW4=' }, /Bearer/, 'invalid_request');

    const absent = await call(crew.url, 'GET', '/api/v1/me');
    expect(absent.status).toBe(401);
    expect(absent.body.error.code).toBe('AUTH.UNAUTHENTICATED');
    expect(absent.headers.get('www-authenticate')).toBe('Bearer realm="containerops"');
  });

  it('publishes the public signing key only at /.well-known/jwks.json', async () => {
    const { body } = await login(crew, 'admin', ADMIN_PASSWORD);
    secrets.push(body.accessToken, body.refreshToken);
    const jwks = await call(crew.url, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    const [key] = jwks.body.keys;
    expect(key).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: header(body.accessToken).kid, alg: 'EdDSA', use: 'sig' });
    expect(key).not.toHaveProperty('d');
  });

  it('throttles a user after 5 failures with 429 and Retry-After; a success resets the counter', async () => {
    const password = 'carol-secret-passphrase';
    secrets.push(password, 'dave-secret-passphrase');
    expect((await call(crew.url, 'POST', '/api/v1/users', { username: 'carol', password, email: 'carol@example.com' }, await asAdmin(crew))).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await login(crew, 'carol', `wrong-password-${i}`)).status).toBe(401);
    const throttled = await login(crew, 'carol', password);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('AUTH.THROTTLED');
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // Other users are not affected.
    expect((await login(crew, 'admin', ADMIN_PASSWORD)).status).toBe(200);

    expect((await call(crew.url, 'POST', '/api/v1/users', { username: 'dave', password: 'dave-secret-passphrase', email: 'dave@example.com' }, await asAdmin(crew))).status).toBe(201);
    for (let i = 0; i < 4; i++) expect((await login(crew, 'dave', `wrong-password-${i}`)).status).toBe(401);
    const ok = await login(crew, 'dave', 'dave-secret-passphrase');
    expect(ok.status).toBe(200);
    secrets.push(ok.body.accessToken, ok.body.refreshToken);
    // Without the reset these four would make eight failures in the window.
    for (let i = 0; i < 4; i++) expect((await login(crew, 'dave', `wrong-password-${i}`)).status).toBe(401);
    expect((await login(crew, 'dave', 'dave-secret-passphrase')).status).toBe(200);
  });

  it('never logs passwords or tokens', () => {
    expect(crew.logs.length).toBeGreaterThan(10);
    expect(crew.logs.some((line) => line.includes('request completed'))).toBe(true);
    const all = crew.logs.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret);
    expect(all).not.toContain('wrong-password-');
    expect(all).not.toContain('scrypt$');
  });
});

describe('crew: generated admin password, restarts, key rotation and address throttling', () => {
  let first: TestCrew;
  let second: TestCrew | undefined;

  beforeAll(async () => {
    first = await startCrew({ CO_ADMIN_PASSWORD: undefined });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('prints a generated password once, in one line; a restart neither recreates nor prints it; an aged key is rotated', async () => {
    const lines = first.logs.filter((line) => line.includes('generated password'));
    expect(lines).toHaveLength(1);
    const password = /generated password (\S+) ;/.exec(JSON.parse(lines[0]).msg)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const before = await login(first, 'admin', password!);
    expect(before.status).toBe(200);
    const oldKid = header(before.body.accessToken).kid;

    // Make the key look 31 days old: the next start replaces it.
    const aged = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    await first.service.runtime.db.query('UPDATE crew_signing_keys SET created_at = ?', [aged]);

    second = await startCrew({ CO_ADMIN_PASSWORD: undefined }, first);
    expect(second.logs.some((line) => line.includes('generated password'))).toBe(false);
    expect(second.logs.some((line) => line.includes('bootstrap administrator'))).toBe(false);
    const after = await login(second, 'admin', password!);
    expect(after.status).toBe(200);
    const newKid = header(after.body.accessToken).kid;
    expect(newKid).not.toBe(oldKid);

    // The old key stays published (its tokens are still valid) beside the new one.
    const jwks = (await call(second.url, 'GET', '/.well-known/jwks.json')).body;
    expect(jwks.keys.map((key: { kid: string }) => key.kid).sort()).toEqual([oldKid, newKid].sort());
    expect((await call(second.url, 'GET', '/api/v1/me', undefined, bearer(before.body.accessToken))).status).toBe(200);
    // The first replica learns the new key when it meets its kid.
    expect((await call(first.url, 'GET', '/api/v1/me', undefined, bearer(after.body.accessToken))).status).toBe(200);

    const all = [...first.logs, ...second.logs].join('\n');
    for (const secret of [before.body.accessToken, before.body.refreshToken, after.body.accessToken, after.body.refreshToken]) {
      expect(all).not.toContain(secret);
    }
    // The password appears in exactly one line, ever.
    expect([...first.logs, ...second.logs].filter((line) => line.includes(password!))).toHaveLength(1);
  });

  it('throttles an address after 20 failures, whatever the usernames', async () => {
    const crew = second ?? first;
    for (let i = 0; i < 20; i++) expect((await login(crew, `someone-${i % 10}`, 'not-a-real-password')).status).toBe(401);
    const throttled = await login(crew, 'someone-else', 'not-a-real-password');
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('AUTH.THROTTLED');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
