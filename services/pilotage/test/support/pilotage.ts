import { startService, type RunningService } from '@co/service-kit';
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
): Promise<TestPilotage> {
  const ownCrew = crew ? undefined : await startPilotageCrew(mode);
  const access = crew ?? ownCrew!;
  const prefix = uniqueName('t');
  const { config, cleanup } = await testServiceConfig('pilotage', mode, { CO_SUBJECT_PREFIX: prefix, ...extra });
  const engineEnv: Record<string, string> = {
    DOCKER_HOST: `unix://${podmanSocket()}`,
    CO_PILOTAGE_CONTAINER_NETWORK: 'host',
    CO_PILOTAGE_EVENT_BASE_URL: `http://127.0.0.1:${config.httpPort}`,
    CO_PILOTAGE_STOP_GRACE_SECONDS: '2',
    ...access.env,
    ...engineOverrides,
  };
  const service = await withEnvironment(engineEnv, () => startService(pilotageService, config));
  useToken(service.httpUrl, access.pilot.token);
  return {
    service,
    url: service.httpUrl,
    prefix,
    crew: access,
    async close() {
      await service.close();
      await cleanup();
      if (mode === 'distributed') await deleteStreams(prefix);
      await ownCrew?.close();
    },
  };
}
