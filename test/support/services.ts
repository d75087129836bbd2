import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadServiceConfig, type ServiceConfig, type ServiceName } from '@co/common';
import { dropDatabase, freePort, mysqlDatabaseUrl, NATS_URL, uniqueName } from './infra';

export interface TestConfig {
  config: ServiceConfig;
  cleanup(): Promise<void>;
}

/** A config on free ports with a fresh SQLite file, or a fresh MariaDB database and NATS. */
export async function testServiceConfig(
  service: ServiceName,
  mode: 'standalone' | 'distributed',
  extra: Record<string, string> = {},
): Promise<TestConfig> {
  const env: Record<string, string> = {
    CO_HTTP_HOST: '127.0.0.1',
    CO_HTTP_PORT: String(await freePort()),
    CO_GRPC_PORT: String(await freePort()),
    CO_LOG_LEVEL: process.env.CO_TEST_LOG_LEVEL ?? 'silent',
    CO_SHUTDOWN_TIMEOUT_MS: '2000',
    ...extra,
  };
  if (mode === 'distributed') {
    // A second replica passes the first one's CO_DB_URL; the first one drops it.
    if (extra.CO_DB_URL) {
      env.CO_NATS_URL = NATS_URL;
      return { config: loadServiceConfig(service, env), cleanup: async () => undefined };
    }
    const database = uniqueName(`co_test_${service}_`);
    env.CO_DB_URL = mysqlDatabaseUrl(database);
    env.CO_NATS_URL = NATS_URL;
    return { config: loadServiceConfig(service, env), cleanup: () => dropDatabase(database) };
  }
  const dir = mkdtempSync(path.join(tmpdir(), `co-${service}-`));
  env.CO_DATA_DIR = dir;
  return { config: loadServiceConfig(service, env), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}
