import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startService, type RunningService } from '@co/service-kit';
import {
  addOrgMember,
  addProjectMember,
  createUser as createCrewUser,
  ensureProject as ensureCrewProject,
  startAccessCrew,
  type AccessCrew,
  type TestUser,
} from '../../../../test/support/crew-access';
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
  crew: AccessCrew;
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
  const crew = await startAccessCrew();
  const admin = crew.admin;
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-dockyard-'));
  let service: RunningService | undefined;
  let cleanup: () => Promise<void> = async () => undefined;
  try {
    const serviceName = 'dockyard.test';
    const configured = await testServiceConfig('dockyard', 'distributed', { CO_SUBJECT_PREFIX: crew.prefix });
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
    const ensureProject = (place: string) => ensureCrewProject(crew, place);
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
      prefix: crew.prefix,
      createUser: (name) => createCrewUser(crew, name),
      async addMember(place, username, role) {
        await ensureProject(place);
        if (place.includes('/')) await addProjectMember(crew, place, username, role);
        else await addOrgMember(crew, place, username, role);
      },
      ensureProject,
      async createWorkspace(name, options = {}) {
        const org = options.org ?? 'default';
        const project = options.project ?? 'admin';
        if (org !== 'default' || project !== 'admin') await ensureProject(`${org}/${project}`);
        const answer = await call('POST', '/api/v1/workspaces', options.token ?? admin.token, { name, org, project, visibility: options.visibility ?? 'private' });
        if (answer.status !== 201) throw new Error(`creating workspace ${name}: ${answer.status} ${answer.text}`);
        await waitForCrew(name, registryToken, admin.password);
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
        await crew.close();
      },
    };
    return handle;
  } catch (error) {
    await service?.close().catch(() => undefined);
    await cleanup().catch(() => undefined);
    rmSync(storageDir, { recursive: true, force: true });
    await crew.close();
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
