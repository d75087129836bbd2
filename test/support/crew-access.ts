import { startService, type RunningService } from '@co/service-kit';
import { crewService } from '../../services/crew/src/crew.service';
import { startCrew } from '../../services/crew/test/support/crew';
import { uniqueName, withEnvironment } from './infra';
import { testServiceConfig } from './services';

/** The bootstrap administrator's password in every test crew. */
export const TEST_ADMIN_PASSWORD = 'admin-test-password-1';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
}

/** A crew that other services ask for access decisions, with its platform administrator signed in. */
export interface AccessCrew {
  service: RunningService;
  url: string;
  grpcAddress: string;
  admin: TestUser;
  /** CO_CREW_URL and CO_CREW_GRPC_ADDRESS for a service that should ask this crew. */
  env: Record<string, string>;
  /** Crew's subject prefix: a service started with it shares crew's bus (events crew consumes). */
  prefix: string;
  close(): Promise<void>;
}

async function request(base: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function expectStatus(answer: Promise<{ status: number; body: any }>, allowed: number[], what: string) {
  const { status, body } = await answer;
  if (!allowed.includes(status)) throw new Error(`${what}: crew answered ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Crew on MariaDB and NATS (distributed) or on a SQLite file (standalone), admin signed in. */
export async function startAccessCrew(mode: 'distributed' | 'standalone' = 'distributed'): Promise<AccessCrew> {
  let service: RunningService;
  let url: string;
  let grpcAddress: string;
  let close: () => Promise<void>;
  let prefix: string;
  if (mode === 'distributed') {
    const crew = await startCrew({ CO_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD });
    service = crew.service;
    url = crew.url;
    grpcAddress = crew.service.grpcAddress;
    prefix = crew.prefix;
    close = () => crew.close();
  } else {
    prefix = uniqueName('t');
    const { config, cleanup } = await testServiceConfig('crew', 'standalone', { CO_SUBJECT_PREFIX: prefix });
    service = await withEnvironment({ CO_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD }, () => startService(crewService, config));
    url = service.httpUrl;
    grpcAddress = service.grpcAddress;
    close = async () => {
      await service.close();
      await cleanup();
    };
  }
  const admin = await login(url, 'admin', TEST_ADMIN_PASSWORD);
  return { service, url, grpcAddress, admin, env: { CO_CREW_URL: url, CO_CREW_GRPC_ADDRESS: grpcAddress }, prefix, close };
}

export async function login(crewUrl: string, username: string, password: string): Promise<TestUser> {
  const tokens = await expectStatus(request(crewUrl, 'POST', '/api/v1/auth/login', undefined, { username, password }), [200], `logging in as ${username}`);
  const me = await expectStatus(request(crewUrl, 'GET', '/api/v1/me', tokens.accessToken), [200], `reading ${username}`);
  return { id: me.id, username, password, token: tokens.accessToken };
}

/** A new user, signed in. */
export async function createUser(crew: AccessCrew, username: string): Promise<TestUser> {
  const password = `${username}-password-123`;
  await expectStatus(
    request(crew.url, 'POST', '/api/v1/users', crew.admin.token, { username, password, email: `${username}@example.com` }),
    [201],
    `creating user ${username}`,
  );
  return login(crew.url, username, password);
}

/** The organization and the project (`org/project`; `org` alone: only the organization), created unless they exist. */
export async function ensureProject(crew: AccessCrew, project: string): Promise<void> {
  const [org, name] = project.split('/');
  await expectStatus(request(crew.url, 'POST', '/api/v1/orgs', crew.admin.token, { name: org }), [201, 409], `creating organization ${org}`);
  if (!name) return;
  await expectStatus(request(crew.url, 'POST', `/api/v1/orgs/${org}/projects`, crew.admin.token, { name }), [201, 409], `creating project ${project}`);
}

export async function addProjectMember(crew: AccessCrew, project: string, username: string, role: string): Promise<void> {
  const [org, name] = project.split('/');
  await expectStatus(
    request(crew.url, 'POST', `/api/v1/orgs/${org}/projects/${name}/members`, crew.admin.token, { username, role }),
    [200, 201],
    `making ${username} ${role} of ${project}`,
  );
}

export async function removeProjectMember(crew: AccessCrew, project: string, username: string): Promise<void> {
  const [org, name] = project.split('/');
  await expectStatus(request(crew.url, 'DELETE', `/api/v1/orgs/${org}/projects/${name}/members/${username}`, crew.admin.token), [200, 204], `removing ${username} from ${project}`);
}

export async function addOrgMember(crew: AccessCrew, org: string, username: string, role: string): Promise<void> {
  await expectStatus(request(crew.url, 'POST', `/api/v1/orgs/${org}/members`, crew.admin.token, { username, role }), [200, 201], `making ${username} ${role} of ${org}`);
}

export async function setProjectRole(crew: AccessCrew, project: string, username: string, role: string): Promise<void> {
  const [org, name] = project.split('/');
  await expectStatus(request(crew.url, 'PUT', `/api/v1/orgs/${org}/projects/${name}/members/${username}`, crew.admin.token, { role }), [200], `making ${username} ${role} of ${project}`);
}

/** A personal API token (`cop_…`) of `user`, with all of the user's rights. */
export async function createApiToken(crew: AccessCrew, user: TestUser, name: string): Promise<string> {
  const created = await expectStatus(request(crew.url, 'POST', '/api/v1/tokens', user.token, { name }), [201], `creating an API token for ${user.username}`);
  return created.token as string;
}

/** A role of crew, defined by the platform administrator. */
export async function defineRole(crew: AccessCrew, role: { name: string; level: string; rules: { resource: string; actions: string[]; scope: string }[] }): Promise<void> {
  await expectStatus(request(crew.url, 'POST', '/api/v1/roles', crew.admin.token, role), [200, 201], `defining role ${role.name}`);
}
