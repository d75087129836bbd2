import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startService, type RunningService } from '@co/service-kit';
import {
  addOrgMember,
  addProjectMember,
  createApiToken,
  createUser,
  ensureProject,
  startAccessCrew,
  type AccessCrew,
  type TestUser,
} from '../../../../test/support/crew-access';
import { withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { logarithmService } from '../../src/logarithm.service';

export type { TestUser };

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** Who the test organizations hold: `acme/web` and `globex/ops`. */
export interface LogarithmTestUsers {
  /** Platform administrator. */
  admin: TestUser;
  /** project-admin of acme/web: log:view and log:push there. */
  acmeAdmin: TestUser;
  /** viewer of acme/web: log:view only. */
  acmeViewer: TestUser;
  /** org-admin of acme (organization-level rights, e.g. retention). */
  acmeOwner: TestUser;
  /** project-admin of globex/ops: nothing in acme. */
  globexAdmin: TestUser;
}

export interface TestLogarithm {
  service: RunningService;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Subject prefix shared with crew on NATS (publish task logs under it). */
  prefix: string;
  storageDir: string;
  crew: AccessCrew;
  users: LogarithmTestUsers;
  /** Personal API tokens (`cop_…`) of the users, created on first use. */
  apiToken(user: keyof LogarithmTestUsers): Promise<string>;
  /**
   * A call to logarithm's REST API as `token` (null: anonymous). A Buffer body is sent
   * as is; an object as JSON; `headers` override.
   */
  call<T = any>(method: string, route: string, token: string | null, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  /** Stops logarithm and starts it again on the same ports, database, storage and prefix (a restart). */
  restart(env?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export const ACME = { org: 'acme', project: 'web' } as const;
export const GLOBEX = { org: 'globex', project: 'ops' } as const;

/**
 * crew and logarithm in this process against the real MariaDB and NATS, sharing a
 * random subject prefix; segments go to a fresh temporary folder. Two organizations
 * with their users are created (see LogarithmTestUsers). `env` adds CO_LOGARITHM_*
 * variables.
 */
export async function startLogarithm(env: Record<string, string> = {}): Promise<TestLogarithm> {
  const crew = await startAccessCrew();
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-logarithm-'));
  let running: RunningService | undefined;
  let cleanup: () => Promise<void> = async () => undefined;
  try {
    for (const place of [ACME, GLOBEX]) await ensureProject(crew, `${place.org}/${place.project}`);
    const projectMember = async (name: string, place: { org: string; project: string }, role: string) => {
      const user = await createUser(crew, name);
      await addProjectMember(crew, `${place.org}/${place.project}`, name, role);
      return user;
    };
    const orgMember = async (name: string, org: string, role: string) => {
      const user = await createUser(crew, name);
      await addOrgMember(crew, org, name, role);
      return user;
    };
    const users: LogarithmTestUsers = {
      admin: crew.admin,
      acmeAdmin: await projectMember('acme-admin', ACME, 'project-admin'),
      acmeViewer: await projectMember('acme-viewer', ACME, 'viewer'),
      acmeOwner: await orgMember('acme-owner', ACME.org, 'org-admin'),
      globexAdmin: await projectMember('globex-admin', GLOBEX, 'project-admin'),
    };
    const apiTokens = new Map<string, string>();

    const configured = await testServiceConfig('logarithm', 'distributed', { CO_SUBJECT_PREFIX: crew.prefix });
    cleanup = configured.cleanup;
    const baseEnv = { ...crew.env, CO_AUTHZ_CACHE_SECONDS: '0', CO_LOGARITHM_STORAGE_DIR: storageDir, ...env };
    let serviceEnv = baseEnv;
    running = await withEnvironment(serviceEnv, () => startService(logarithmService, configured.config));
    const url = running.httpUrl;

    const call = async <T = any>(method: string, route: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
      const isBuffer = Buffer.isBuffer(body);
      const response = await fetch(`${url}${route}`, {
        method,
        headers: {
          ...(body === undefined || isBuffer ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : isBuffer ? (body as Buffer) : JSON.stringify(body),
      });
      const raw = Buffer.from(await response.arrayBuffer());
      const text = raw.toString('utf8');
      let parsed: unknown = text;
      if ((response.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON after all: the text itself
        }
      } else if (!(response.headers.get('content-type') ?? '').startsWith('text/')) {
        parsed = raw;
      }
      return { status: response.status, headers: response.headers, body: parsed as T, text };
    };

    const handle: TestLogarithm = {
      service: running,
      url,
      prefix: crew.prefix,
      storageDir,
      crew,
      users,
      async apiToken(user) {
        const known = apiTokens.get(user);
        if (known) return known;
        const token = await createApiToken(crew, users[user], `logs-${user}`);
        apiTokens.set(user, token);
        return token;
      },
      call,
      async restart(extra = {}) {
        await running!.close();
        serviceEnv = { ...baseEnv, ...extra };
        running = await withEnvironment(serviceEnv, () => startService(logarithmService, configured.config));
        handle.service = running;
      },
      async close() {
        await running!.close();
        await cleanup();
        rmSync(storageDir, { recursive: true, force: true });
        await crew.close();
      },
    };
    return handle;
  } catch (error) {
    await running?.close().catch(() => undefined);
    await cleanup().catch(() => undefined);
    rmSync(storageDir, { recursive: true, force: true });
    await crew.close();
    throw error;
  }
}
