import { startService, type RunningService } from '@co/service-kit';
import { deleteStreams, uniqueName, withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { pilotageService } from '../../src/pilotage.service';
import { podmanSocket } from './podman';

export interface TestPilotage {
  service: RunningService;
  url: string;
  prefix: string;
  close(): Promise<void>;
}

/**
 * Pilotage in this process against the real MariaDB, NATS and Podman (or, standalone,
 * a SQLite file and the in-process bus). Task containers
 * share the host's network so that they reach the event endpoint on 127.0.0.1.
 */
export async function startPilotage(
  extra: Record<string, string> = {},
  mode: 'distributed' | 'standalone' = 'distributed',
  engineOverrides: Record<string, string> = {},
): Promise<TestPilotage> {
  const prefix = uniqueName('t');
  const { config, cleanup } = await testServiceConfig('pilotage', mode, { CO_SUBJECT_PREFIX: prefix, ...extra });
  const engineEnv: Record<string, string> = {
    DOCKER_HOST: `unix://${podmanSocket()}`,
    CO_PILOTAGE_CONTAINER_NETWORK: 'host',
    CO_PILOTAGE_EVENT_BASE_URL: `http://127.0.0.1:${config.httpPort}`,
    CO_PILOTAGE_STOP_GRACE_SECONDS: '2',
    ...engineOverrides,
  };
  const service = await withEnvironment(engineEnv, () => startService(pilotageService, config));
  return {
    service,
    url: service.httpUrl,
    prefix,
    async close() {
      await service.close();
      await cleanup();
      if (mode === 'distributed') await deleteStreams(prefix);
    },
  };
}
