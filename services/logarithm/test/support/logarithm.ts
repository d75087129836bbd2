import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startService, type RunningService } from '@co/service-kit';
import { startCrew, type TestCrew } from '../../../crew/test/support/crew';
import { createUser as createCrewUser, login, type AccessCrew, type TestUser } from '../../../../test/support/crew-access';
import { deleteStreams, withEnvironment } from '../../../../test/support/infra';
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
  crew: AccessCrew & { prefix: string };
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
  const crewRun: TestCrew = await startCrew();
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-logarithm-'));
  let running: RunningService | undefined;
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
    const crewCall = async (method: string, route: string, body?: unknown, token = admin.token) => {
      const response = await fetch(`${crew.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
    };
    const expect = async (answer: Promise<{ status: number; text: string }>, allowed: number[], what: string) => {
      const { status, text } = await answer;
      if (!allowed.includes(status)) throw new Error(`${what}: crew answered ${status} ${text}`);
    };
    for (const place of [ACME, GLOBEX]) {
      await expect(crewCall('POST', '/api/v1/orgs', { name: place.org }), [201, 409], `creating ${place.org}`);
      await expect(crewCall('POST', `/api/v1/orgs/${place.org}/projects`, { name: place.project }), [201, 409], `creating ${place.org}/${place.project}`);
    }
    const member = async (name: string, place: { org: string; project?: string }, role: string) => {
      const user = await createCrewUser(crew, name);
      const route = place.project ? `/api/v1/orgs/${place.org}/projects/${place.project}/members` : `/api/v1/orgs/${place.org}/members`;
      await expect(crewCall('POST', route, { username: name, role }), [200, 201], `making ${name} ${role}`);
      return user;
    };
    const users: LogarithmTestUsers = {
      admin,
      acmeAdmin: await member('acme-admin', ACME, 'project-admin'),
      acmeViewer: await member('acme-viewer', ACME, 'viewer'),
      acmeOwner: await member('acme-owner', { org: ACME.org }, 'org-admin'),
      globexAdmin: await member('globex-admin', GLOBEX, 'project-admin'),
    };
    const apiTokens = new Map<string, string>();

    const configured = await testServiceConfig('logarithm', 'distributed', { CO_SUBJECT_PREFIX: crewRun.prefix });
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
      prefix: crewRun.prefix,
      storageDir,
      crew,
      users,
      async apiToken(user) {
        const known = apiTokens.get(user);
        if (known) return known;
        const answer = await crewCall('POST', '/api/v1/tokens', { name: `logs-${user}` }, users[user].token);
        if (answer.status !== 201) throw new Error(`creating an API token for ${user}: crew answered ${answer.status} ${answer.text}`);
        apiTokens.set(user, answer.body.token);
        return answer.body.token as string;
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
        await crewRun.close();
        await deleteStreams(crewRun.prefix).catch(() => undefined);
      },
    };
    return handle;
  } catch (error) {
    await running?.close().catch(() => undefined);
    await cleanup().catch(() => undefined);
    rmSync(storageDir, { recursive: true, force: true });
    await crewRun.close();
    throw error;
  }
}
