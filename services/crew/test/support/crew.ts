import pino from 'pino';
import { Writable } from 'node:stream';
import { startService, type RunningService } from '@co/service-kit';
import { deleteStreams, uniqueName, withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { crewService } from '../../src/crew.service';

export interface TestCrew {
  service: RunningService;
  /** The bootstrap administrator's password (CO_ADMIN_PASSWORD), unless it was generated. */
  adminPassword?: string;
  url: string;
  prefix: string;
  dbUrl: string;
  /** Every log line this instance wrote (level info and above), raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** CO_ADMIN_PASSWORD of a test crew unless `env` names it (undefined: a generated one). */
export const TEST_ADMIN_PASSWORD = 'test-Admin-passphrase-42';

/**
 * Crew in this process against the real MariaDB and NATS, its log captured. `env`
 * (CO_ADMIN_PASSWORD, CO_CREW_*) is set in process.env while it starts; a variable
 * given as undefined is removed meanwhile; CO_ADMIN_PASSWORD defaults to
 * TEST_ADMIN_PASSWORD. Pass `shareWith` to start a second replica on the first one's
 * database.
 */
export async function startCrew(env: Record<string, string | undefined> = {}, shareWith?: TestCrew): Promise<TestCrew> {
  env = 'CO_ADMIN_PASSWORD' in env ? env : { ...env, CO_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD };
  const prefix = shareWith?.prefix ?? uniqueName('t');
  const extra: Record<string, string> = { CO_SUBJECT_PREFIX: prefix };
  if (shareWith) extra.CO_DB_URL = shareWith.dbUrl;
  const { config, cleanup } = await testServiceConfig('crew', 'distributed', extra);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'crew' }, messageKey: 'msg' }, sink);
  const service = await withEnvironment(env, () => startService(crewService, config, { logger }));
  return {
    service,
    adminPassword: env.CO_ADMIN_PASSWORD,
    url: service.httpUrl,
    prefix,
    dbUrl: config.dbUrl,
    logs,
    async close() {
      await service.close();
      await cleanup();
      if (!shareWith) await deleteStreams(prefix);
    },
  };
}

/*
 * Helpers for tests of any service that talk to a test crew over HTTP:
 *   const crew = await startCrew();
 *   const admin = await login(crew, 'admin', crew.adminPassword!);     // an access token
 *   const alice = await createUser(crew, admin, 'alice');             // { id, username, password, token }
 *   await createOrgWithMembers(crew, admin, 'acme', { members: { bob: 'org-admin' }, projects: { web: { alice: 'member' } } });
 *   await call(crew.url, 'GET', '/api/v1/orgs', undefined, bearer(alice.token));
 * Each helper fails the test (throws) on an unexpected answer.
 */

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function expectStatus(answer: Answer, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Logs in and returns the access token. */
export async function login(crew: TestCrew, username: string, password: string): Promise<string> {
  const answer = await call(crew.url, 'POST', '/api/v1/auth/login', { username, password });
  expectStatus(answer, 200, `login as ${username}`);
  return answer.body.accessToken as string;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  /** An access token of the user (valid 15 minutes). */
  token: string;
}

/** The password createUser gives `username`. */
export function testPassword(username: string): string {
  return `${username}-passphrase-42`;
}

/** Creates a user (as `adminToken`, a platform administrator) and logs them in. */
export async function createUser(crew: TestCrew, adminToken: string, username: string): Promise<TestUser> {
  const password = testPassword(username);
  const created = await call(crew.url, 'POST', '/api/v1/users', { username, password, email: `${username}@example.com` }, bearer(adminToken));
  expectStatus(created, 201, `create user ${username}`);
  return { id: created.body.id, username, password, token: await login(crew, username, password) };
}

/**
 * Creates organization `org`, its `projects`, and gives roles: `members` in the
 * organization itself, `projects[name]` in each project (username → role). Users that
 * do not exist yet are created (see createUser) and returned by username.
 */
export async function createOrgWithMembers(
  crew: TestCrew,
  adminToken: string,
  org: string,
  layout: { members?: Record<string, string>; projects?: Record<string, Record<string, string>> } = {},
): Promise<Record<string, TestUser>> {
  const users: Record<string, TestUser> = {};
  const user = async (username: string) => {
    if (users[username]) return users[username];
    const existing = await call(crew.url, 'GET', `/api/v1/users/${username}`, undefined, bearer(adminToken));
    users[username] = existing.status === 200
      ? { id: existing.body.id, username, password: testPassword(username), token: await login(crew, username, testPassword(username)) }
      : await createUser(crew, adminToken, username);
    return users[username];
  };
  expectStatus(await call(crew.url, 'POST', '/api/v1/orgs', { name: org }, bearer(adminToken)), 201, `create organization ${org}`);
  for (const [username, role] of Object.entries(layout.members ?? {})) {
    await user(username);
    expectStatus(await call(crew.url, 'POST', `/api/v1/orgs/${org}/members`, { username, role }, bearer(adminToken)), 201, `make ${username} ${role} of ${org}`);
  }
  for (const [project, members] of Object.entries(layout.projects ?? {})) {
    expectStatus(await call(crew.url, 'POST', `/api/v1/orgs/${org}/projects`, { name: project }, bearer(adminToken)), 201, `create project ${org}/${project}`);
    for (const [username, role] of Object.entries(members)) {
      await user(username);
      const added = await call(crew.url, 'POST', `/api/v1/orgs/${org}/projects/${project}/members`, { username, role }, bearer(adminToken));
      expectStatus(added, 201, `make ${username} ${role} of ${org}/${project}`);
    }
  }
  return users;
}
