import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from 'nats';
import { DEFAULT_PORTS, SERVICE_NAMES, type ServiceName } from '@co/common';
import {
  NATS_URL,
  deleteStreams,
  dropDatabase,
  eventually,
  freePort,
  mysqlDatabaseUrl,
  uniqueName,
} from '../support/infra';
import { grpcHealthCheck, startProcess, type ServiceProcess } from '../support/processes';

interface Endpoint {
  service: ServiceName;
  http: string;
  grpc: string;
}

async function portsFor(): Promise<Record<ServiceName, { http: number; grpc: number }>> {
  const ports = {} as Record<ServiceName, { http: number; grpc: number }>;
  for (const service of SERVICE_NAMES) ports[service] = { http: await freePort(), grpc: await freePort() };
  return ports;
}

async function expectHealthy(endpoint: Endpoint) {
  const health = await fetch(`${endpoint.http}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok', service: endpoint.service });

  const ready = await eventually(async () => {
    const response = await fetch(`${endpoint.http}/ready`);
    return response.status === 200 && response;
  }, 15_000, `${endpoint.service} ready`);
  expect(await ready.json()).toMatchObject({ status: 'ready', service: endpoint.service });

  const metrics = await fetch(`${endpoint.http}/metrics`);
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toContain(`process_resident_memory_bytes{service="${endpoint.service}"}`);

  expect(await grpcHealthCheck(endpoint.grpc, '')).toBe('SERVING');
  expect(await grpcHealthCheck(endpoint.grpc, `containerops.${endpoint.service}.v1`)).toBe('SERVING');
  await expect(grpcHealthCheck(endpoint.grpc, 'containerops.nothing.v1')).rejects.toMatchObject({ code: 5 });
}

async function waitForExit(processes: ServiceProcess[]) {
  const codes = await Promise.all(processes.map((each) => each.stop('SIGTERM')));
  expect(codes).toEqual(processes.map(() => 0));
}

describe('the six services as processes', () => {
  it('boot in standalone mode (one process, SQLite, in-process bus) and stop cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'co-standalone-'));
    const ports = await portsFor();
    const env: Record<string, string> = { CO_DATA_DIR: dataDir, CO_LOG_LEVEL: 'warn' };
    for (const service of SERVICE_NAMES) {
      env[`CO_${service.toUpperCase()}_HTTP_PORT`] = String(ports[service].http);
      env[`CO_${service.toUpperCase()}_GRPC_PORT`] = String(ports[service].grpc);
    }
    const launcher = startProcess('standalone', env);
    try {
      await eventually(
        async () => launcher.stdout().includes('Press Ctrl-C to stop.') || launcher.child.exitCode !== null,
        60_000,
        'the standalone launcher',
      );
      expect(launcher.child.exitCode).toBeNull();
      for (const service of SERVICE_NAMES) {
        expect(launcher.stdout()).toContain(`http://127.0.0.1:${ports[service].http}`);
        await expectHealthy({
          service,
          http: `http://127.0.0.1:${ports[service].http}`,
          grpc: `127.0.0.1:${ports[service].grpc}`,
        });
        expect(existsSync(path.join(dataDir, `${service}.sqlite`))).toBe(true);
      }
      await waitForExit([launcher]);
      expect(launcher.stderr()).toBe('');
    } finally {
      await launcher.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('boot in distributed mode (one process each, MariaDB, NATS JetStream) and stop cleanly on SIGTERM', async () => {
    const prefix = uniqueName('t');
    const ports = await portsFor();
    const databases = SERVICE_NAMES.map((service) => uniqueName(`co_boot_${service}_`));
    const processes = SERVICE_NAMES.map((service, index) =>
      startProcess(service, {
        CO_HTTP_HOST: '127.0.0.1',
        CO_HTTP_PORT: String(ports[service].http),
        CO_GRPC_PORT: String(ports[service].grpc),
        CO_DB_URL: mysqlDatabaseUrl(databases[index]),
        CO_NATS_URL: NATS_URL,
        CO_SUBJECT_PREFIX: prefix,
        CO_LOG_LEVEL: 'warn',
      }),
    );
    try {
      for (const service of SERVICE_NAMES) {
        await eventually(async () => {
          const exited = processes[SERVICE_NAMES.indexOf(service)].child.exitCode;
          if (exited !== null) throw new Error(`${service} exited with ${exited}: ${processes[SERVICE_NAMES.indexOf(service)].stderr()}`);
          return fetch(`http://127.0.0.1:${ports[service].http}/health`).then((response) => response.ok, () => false);
        }, 60_000, `${service} to listen`);
        await expectHealthy({
          service,
          http: `http://127.0.0.1:${ports[service].http}`,
          grpc: `127.0.0.1:${ports[service].grpc}`,
        });
      }
      const nats = await connect({ servers: NATS_URL });
      try {
        const manager = await nats.jetstreamManager();
        for (const service of SERVICE_NAMES) {
          const info = await manager.streams.info(`${prefix}_${service}`.toUpperCase());
          expect(info.config.subjects).toEqual([`${prefix}.${service}.>`]);
        }
      } finally {
        await nats.close();
      }
      await waitForExit(processes);
    } finally {
      await Promise.all(processes.map((each) => each.stop('SIGKILL')));
      for (const database of databases) await dropDatabase(database);
      await deleteStreams(prefix);
    }
  });
});

describe('a service that cannot start', () => {
  async function runToExit(service: string, env: Record<string, string>) {
    const child = startProcess(service, env);
    let timer: NodeJS.Timeout | undefined;
    try {
      const code = await Promise.race([
        child.exited,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('did not exit')), 30_000))),
      ]);
      return { code, stderr: child.stderr(), stdout: child.stdout() };
    } finally {
      clearTimeout(timer);
      await child.stop('SIGKILL');
    }
  }

  it.each([
    ['CO_HTTP_PORT', 'abc', 'crew: configuration error: CO_HTTP_PORT must be an integer port between 1 and 65535 (got "abc")'],
    ['CO_GRPC_PORT', '70000', 'crew: configuration error: CO_GRPC_PORT must be an integer port between 1 and 65535 (got "70000")'],
    [
      'CO_DB_URL',
      'postgres://db/crew',
      'crew: configuration error: CO_DB_URL must be mysql://user:password@host:port/database or sqlite:<file path> (got "postgres://db/crew")',
    ],
    ['CO_LOG_LEVEL', 'loud', 'crew: configuration error: CO_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
  ])('stops on a bad %s with one clear line and exit code 78', async (variable, value, line) => {
    const result = await runToExit('crew', { [variable]: value });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(`${line}\n`);
    expect(result.stdout).toBe('');
  });

  it('stops on a bad engine variable of pilotage with one line and exit code 78, alone and standalone', async () => {
    const alone = await runToExit('pilotage', { CO_PILOTAGE_STOP_GRACE_SECONDS: '-1' });
    expect(alone.code).toBe(78);
    expect(alone.stderr).toBe('pilotage: configuration error: CO_PILOTAGE_STOP_GRACE_SECONDS=-1: must be an integer between 0 and 3600\n');
    const standalone = await runToExit('standalone', { CO_PILOTAGE_DEFAULT_CONCURRENCY: 'lots' });
    expect(standalone.code).toBe(78);
    expect(standalone.stderr).toBe('standalone: configuration error: CO_PILOTAGE_DEFAULT_CONCURRENCY=lots: must be an integer between 1 and 100\n');
  });

  it('names the prefixed variable when the standalone launcher gets a bad port', async () => {
    const result = await runToExit('standalone', { CO_DOCKYARD_HTTP_PORT: '0' });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      'standalone: configuration error: CO_DOCKYARD_HTTP_PORT must be an integer port between 1 and 65535 (got "0")\n',
    );
  });

  it('refuses a one-service variable in standalone mode, naming the prefixed one to use', async () => {
    const result = await runToExit('standalone', { CO_HTTP_PORT: '9999' });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      "standalone: configuration error: CO_HTTP_PORT names one service's port; in standalone mode set CO_<SERVICE>_HTTP_PORT instead, e.g. CO_PILOTAGE_HTTP_PORT\n",
    );
  });

  it('stops with one line and exit code 1 when its database does not answer', async () => {
    const port = await freePort();
    const result = await runToExit('nucleus', {
      CO_DB_URL: `mysql://root@127.0.0.1:${port}/co_nowhere`,
      CO_HTTP_PORT: String(await freePort()),
      CO_GRPC_PORT: String(await freePort()),
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^nucleus: cannot start: cannot connect to mysql:\/\/root@127\.0\.0\.1:\d+\/co_nowhere: .*ECONNREFUSED/);
  });

  it('uses the documented default ports', () => {
    expect(DEFAULT_PORTS).toEqual({
      pilotage: { http: 8080, grpc: 9080 },
      crew: { http: 8081, grpc: 9081 },
      dockyard: { http: 5000, grpc: 9082 },
      nucleus: { http: 8083, grpc: 9083 },
      logarithm: { http: 8084, grpc: 9084 },
      assembling: { http: 8085, grpc: 9085 },
    });
  });
});
