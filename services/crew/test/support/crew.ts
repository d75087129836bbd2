import pino from 'pino';
import { Writable } from 'node:stream';
import { startService, type RunningService } from '@co/service-kit';
import { deleteStreams, uniqueName, withEnvironment } from '../../../../test/support/infra';
import { testServiceConfig } from '../../../../test/support/services';
import { crewService } from '../../src/crew.service';

export interface TestCrew {
  service: RunningService;
  url: string;
  prefix: string;
  dbUrl: string;
  /** Every log line this instance wrote (level info and above), raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/**
 * Crew in this process against the real MariaDB and NATS, its log captured. `env`
 * (CO_ADMIN_PASSWORD, CO_CREW_*) is set in process.env while it starts; a variable
 * given as undefined is removed meanwhile. Pass `shareWith` to start a second
 * replica on the first one's database.
 */
export async function startCrew(env: Record<string, string | undefined> = {}, shareWith?: TestCrew): Promise<TestCrew> {
  const prefix = shareWith?.prefix ?? uniqueName('t');
  const extra: Record<string, string> = { CO_SUBJECT_PREFIX: prefix };
  if (shareWith) extra.CO_DB_URL = shareWith.dbUrl;
  const { config, cleanup } = await testServiceConfig('crew', 'distributed', extra);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'crew' }, messageKey: 'msg' }, sink);
  const service = await withEnvironment(env, () => startService(crewService, config, { logger }));
  return {
    service,
    url: service.httpUrl,
    prefix,
    dbUrl: config.dbUrl,
    logs,
    async close() {
      await service.close();
      await cleanup();
      if (!shareWith) await deleteStreams(prefix);
    },
  };
}
