import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { InProcessBus } from '@co/bus';
import { startService, type RunningService } from '@co/service-kit';
import { logarithmService } from '../../../logarithm/src/logarithm.service';
import { addOrgMember, createUser, ensureProject, startAccessCrew, type AccessCrew, type TestUser } from '../../../../test/support/crew-access';
import { deleteStreams, uniqueName, withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { pilotageService } from '../../src/pilotage.service';
import { useToken } from './api';
import { podmanSocket } from './podman';

export interface TestPilotage {
  service: RunningService;
  url: string;
  prefix: string;
  /** The crew this pilotage asks for access decisions. */
  crew: PilotageCrew;
  /** Pilotage's own log lines (JSON text), when started with `captureLogs`. */
  logs: string[];
  /** The logarithm pilotage's task logs go to, when started with `logarithm`. */
  logarithm?: RunningService;
  close(): Promise<void>;
}

/** A crew with `pilot`, the user the pilotage tests act as: org-admin of every organization they use. */
export interface PilotageCrew extends AccessCrew {
  pilot: TestUser;
}

/** Organizations and projects the pilotage tests put workflows in. */
export const TEST_PROJECTS = ['default/admin', 'other/team', 'other/place', 'other/copies', 'listing/alpha', 'listing/beta'];

/** Crew with the test projects and `pilot` as org-admin of their organizations. */
export async function startPilotageCrew(mode: 'distributed' | 'standalone' = 'distributed'): Promise<PilotageCrew> {
  const crew = await startAccessCrew(mode);
  try {
    for (const project of TEST_PROJECTS) await ensureProject(crew, project);
    const pilot = await createUser(crew, 'pilot');
    for (const org of new Set(TEST_PROJECTS.map((project) => project.split('/')[0]))) await addOrgMember(crew, org, 'pilot', 'org-admin');
    return { ...crew, pilot };
  } catch (error) {
    await crew.close();
    throw error;
  }
}

/**
 * Pilotage in this process against the real MariaDB, NATS and Podman (or, standalone,
 * a SQLite file and the in-process bus), asking a crew of its own (or `crew`) for access;
 * `call` to its URL acts as `pilot`. Task containers share the host's network so that
 * they reach the event endpoint on 127.0.0.1.
 */
export async function startPilotage(
  extra: Record<string, string> = {},
  mode: 'distributed' | 'standalone' = 'distributed',
  engineOverrides: Record<string, string> = {},
  crew?: PilotageCrew,
  options: { captureLogs?: boolean; logarithm?: boolean } = {},
): Promise<TestPilotage> {
  const ownCrew = crew ? undefined : await startPilotageCrew(mode);
  const access = crew ?? ownCrew!;
  const prefix = uniqueName('t');
  const { config, cleanup } = await testServiceConfig('pilotage', mode, { CO_SUBJECT_PREFIX: prefix, ...extra });
  // Standalone services share one in-process bus, as `npm start` has them.
  const bus =
    mode === 'standalone' && options.logarithm ? new InProcessBus({ subjectPrefix: prefix, logger: pino({ level: 'silent' }) }) : undefined;
  await bus?.connect();
  const logarithm = options.logarithm ? await startTestLogarithm(mode, prefix, access, bus) : undefined;
  const engineEnv: Record<string, string> = {
    DOCKER_HOST: `unix://${podmanSocket()}`,
    CO_PILOTAGE_CONTAINER_NETWORK: 'host',
    CO_PILOTAGE_EVENT_BASE_URL: `http://127.0.0.1:${config.httpPort}`,
    CO_PILOTAGE_STOP_GRACE_SECONDS: '2',
    ...(logarithm ? { CO_PILOTAGE_LOGARITHM_URL: logarithm.service.httpUrl, CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: logarithm.service.grpcAddress } : {}),
    ...access.env,
    ...engineOverrides,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = options.captureLogs ? pino({ level: 'debug', base: { service: 'pilotage' }, messageKey: 'msg' }, sink) : undefined;
  const service = await withEnvironment(engineEnv, () => startService(pilotageService, config, { ...(logger ? { logger } : {}), ...(bus ? { bus } : {}) }));
  useToken(service.httpUrl, access.pilot.token);
  return {
    service,
    url: service.httpUrl,
    prefix,
    crew: access,
    logs,
    logarithm: logarithm?.service,
    async close() {
      await service.close();
      await logarithm?.close();
      await bus?.close();
      await cleanup();
      if (mode === 'distributed') await deleteStreams(prefix);
      await ownCrew?.close();
    },
  };
}

/** logarithm on pilotage's subject prefix (and bus), asking the same crew; segments in a temporary folder. */
export async function startTestLogarithm(mode: 'distributed' | 'standalone', prefix: string, access: AccessCrew, bus: InProcessBus | undefined) {
  const storageDir = mkdtempSync(path.join(tmpdir(), 'co-logarithm-'));
  const { config, cleanup } = await testServiceConfig('logarithm', mode, { CO_SUBJECT_PREFIX: prefix });
  const service = await withEnvironment({ ...access.env, CO_LOGARITHM_STORAGE_DIR: storageDir }, () => startService(logarithmService, config, bus ? { bus } : {}));
  return {
    service,
    async close() {
      await service.close();
      await cleanup();
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
