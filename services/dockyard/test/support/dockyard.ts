import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startService, type RunningService } from '@co/service-kit';
import { startCrew, type TestCrew } from '../../../crew/test/support/crew';
import { createUser as createCrewUser, login, type AccessCrew, type TestUser } from '../../../../test/support/crew-access';
import { withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { dockyardService } from '../../src/dockyard.service';

export type { TestUser };

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestDockyard {
  service: RunningService;
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, as registry clients name the registry. */
  host: string;
  /** The registry's service name (the audience of its tokens). */
  serviceName: string;
  storageDir: string;
  /** The crew it asks, with the platform administrator signed in. */
  crew: AccessCrew & { prefix: string };
  /** Subject prefix shared by crew and dockyard on NATS. */
  prefix: string;
  /** A new user, signed in (password `<name>-password-123`). */
  createUser(name: string): Promise<TestUser>;
  /** Adds a user to an organization (`role`: org-admin, ...) or a project (`org/project`, role project-admin, member, viewer). */
  addMember(place: string, username: string, role: string): Promise<void>;
  /** Creates an organization's project if needed (`org/project`), as the administrator. */
  ensureProject(place: string): Promise<void>;
  /** Creates a workspace as `token` (the administrator by default) and waits until crew knows it. */
  createWorkspace(name: string, options?: { org?: string; project?: string; visibility?: 'public' | 'private'; token?: string }): Promise<any>;
  /** A call to dockyard's REST API as `token` (or anonymous when null). */
  call<T = any>(method: string, route: string, token?: string | null, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  /** A registry token from crew for `scopes` (`repository:ws/repo:pull,push`), as `user`/`password` or anonymous. */
  registryToken(scopes: string[], credentials?: { username: string; password: string }): Promise<string>;
  /** Stops dockyard and starts it again on the same ports, database and storage (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * crew and dockyard in this process against the real MariaDB and NATS, sharing a
 * subject prefix so that crew's registry token service learns dockyard's workspaces.
 * Blobs go to a fresh temporary folder.
 */
export async function startDockyard(env: Record<string, string> = {}): Promise<TestDockyard> {
  const crewRun: TestCrew = await startCrew();
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-dockyard-'));
  let service: RunningService | undefined;
  let cleanup: () => Promise<void> = async () => undefined;
  try {
    const admin = await login(crewRun.url, 'admin', crewRun.adminPassword!);
    const crew = {
      service: crewRun.service,
      url: crewRun.url,
      grpcAddress: crewRun.service.grpcAddress,
      admin,
      env: { CO_CREW_URL: crewRun.url, CO_CREW_GRPC_ADDRESS: crewRun.service.grpcAddress },
      prefix: crewRun.prefix,
      close: () => crewRun.close(),
    };
    const serviceName = 'dockyard.test';
    const configured = await testServiceConfig('dockyard', 'distributed', { CO_SUBJECT_PREFIX: crewRun.prefix });
    cleanup = configured.cleanup;
    const dockyardEnv = {
      ...crew.env,
      CO_AUTHZ_CACHE_SECONDS: '0',
      CO_DOCKYARD_STORAGE_DIR: storageDir,
      CO_DOCKYARD_SERVICE_NAME: serviceName,
      // Building the official images costs seconds of CPU; the tests about them turn it on.
      CO_DOCKYARD_OFFICIAL_IMAGES: 'false',
      ...env,
    };
    service = await withEnvironment(dockyardEnv, () => startService(dockyardService, configured.config));
    let running = service;
    const url = running.httpUrl;
    const call = async <T = any>(method: string, route: string, token?: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
      const bearer = token === null ? undefined : (token ?? admin.token);
      const isBuffer = Buffer.isBuffer(body);
      const response = await fetch(`${url}${route}`, {
        method,
        headers: {
          ...(body === undefined || isBuffer ? {} : { 'content-type': 'application/json' }),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : isBuffer ? (body as Buffer) : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: the text itself
      }
      return { status: response.status, headers: response.headers, body: parsed as T, text };
    };
    const crewCall = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${crew.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${admin.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    };
    const ensureProject = async (place: string) => {
      const [org, project] = place.split('/');
      const orgAnswer = await crewCall('POST', '/api/v1/orgs', { name: org });
      if (![201, 409].includes(orgAnswer.status)) throw new Error(`creating organization ${org}: ${orgAnswer.status} ${orgAnswer.text}`);
      if (!project) return;
      const projectAnswer = await crewCall('POST', `/api/v1/orgs/${org}/projects`, { name: project });
      if (![201, 409].includes(projectAnswer.status)) throw new Error(`creating project ${place}: ${projectAnswer.status} ${projectAnswer.text}`);
    };
    const registryToken = async (scopes: string[], credentials?: { username: string; password: string }) => {
      const query = new URLSearchParams({ service: serviceName });
      for (const scope of scopes) query.append('scope', scope);
      const response = await fetch(`${crew.url}/api/v1/registry/token?${query}`, {
        headers: credentials ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : {},
      });
      if (response.status !== 200) throw new Error(`registry token: crew answered ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    };
    const handle: TestDockyard = {
      service: running,
      url,
      host: url.replace(/^http:\/\//, ''),
      serviceName,
      storageDir,
      crew,
      prefix: crewRun.prefix,
      createUser: (name) => createCrewUser(crew, name),
      async addMember(place, username, role) {
        const [org, project] = place.split('/');
        await ensureProject(place);
        const route = project ? `/api/v1/orgs/${org}/projects/${project}/members` : `/api/v1/orgs/${org}/members`;
        const answer = await crewCall('POST', route, { username, role });
        if (![200, 201].includes(answer.status)) throw new Error(`adding ${username} to ${place}: ${answer.status} ${answer.text}`);
      },
      ensureProject,
      async createWorkspace(name, options = {}) {
        const org = options.org ?? 'default';
        const project = options.project ?? 'admin';
        if (org !== 'default' || project !== 'admin') await ensureProject(`${org}/${project}`);
        const answer = await call('POST', '/api/v1/workspaces', options.token ?? admin.token, { name, org, project, visibility: options.visibility ?? 'private' });
        if (answer.status !== 201) throw new Error(`creating workspace ${name}: ${answer.status} ${answer.text}`);
        await waitForCrew(name, registryToken, crewRun.adminPassword!);
        return answer.body;
      },
      call,
      registryToken,
      async restart() {
        await running.close();
        running = await withEnvironment(dockyardEnv, () => startService(dockyardService, configured.config));
        service = running;
        handle.service = running;
      },
      async close() {
        await running.close();
        await cleanup();
        rmSync(storageDir, { recursive: true, force: true });
        await crewRun.close();
      },
    };
    return handle;
  } catch (error) {
    await service?.close().catch(() => undefined);
    await cleanup().catch(() => undefined);
    rmSync(storageDir, { recursive: true, force: true });
    await crewRun.close();
    throw error;
  }
}

/**
 * crew learns a workspace from dockyard's events a moment after it is created: waits
 * until crew's token service grants the administrator a pull in it.
 */
async function waitForCrew(workspace: string, registryToken: TestDockyard['registryToken'], adminPassword: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const token = await registryToken([`repository:${workspace}/probe:pull`], { username: 'admin', password: adminPassword });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { access: unknown[] };
    if (claims.access.length) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`crew did not learn workspace ${workspace} within 15 s`);
}
