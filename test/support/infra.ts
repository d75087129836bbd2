import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createConnection } from 'mysql2/promise';
import { connect } from 'nats';
import pino from 'pino';

/** The real MariaDB and NATS the integration tests run against. */
export const MYSQL_URL = process.env.CO_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const NATS_URL = process.env.CO_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export const silentLogger = pino({ level: process.env.CO_TEST_LOG_LEVEL ?? 'silent' });

/** A short random suffix so parallel test files never share a database or stream. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** A fresh database URL; `dropDatabase` removes it after the test. */
export function mysqlDatabaseUrl(name: string): string {
  return `${MYSQL_URL.replace(/\/+$/, '')}/${name}`;
}

export async function dropDatabase(name: string): Promise<void> {
  const url = new URL(MYSQL_URL);
  const connection = await createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}

/** Deletes the JetStream streams a test created under its own subject prefix. */
export async function deleteStreams(prefix: string): Promise<void> {
  const connection = await connect({ servers: NATS_URL });
  try {
    const manager = await connection.jetstreamManager();
    for await (const stream of manager.streams.list()) {
      if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`)) await manager.streams.delete(stream.config.name);
    }
  } finally {
    await connection.close();
  }
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs `work` with these process variables set (undefined: unset), then puts them back
 * as they were: services read some settings from the environment while they start.
 */
export async function withEnvironment<T>(vars: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    return await work();
  } finally {
    apply(saved);
  }
}
