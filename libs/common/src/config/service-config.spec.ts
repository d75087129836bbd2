import * as path from 'node:path';
import { ConfigError, loadServiceConfig } from './service-config';

describe('loadServiceConfig', () => {
  it('gives each service its default ports, a SQLite file in the data folder and the in-process bus', () => {
    const config = loadServiceConfig('dockyard', { CO_DATA_DIR: '/var/lib/co' });
    expect(config).toMatchObject({
      service: 'dockyard',
      host: '0.0.0.0',
      httpPort: 5000,
      grpcPort: 9082,
      dbUrl: `sqlite:${path.join('/var/lib/co', 'dockyard.sqlite')}`,
      natsUrl: undefined,
      logLevel: 'info',
      bodyLimitBytes: 1048576,
      bus: { maxDeliver: 5, backoffMs: 1000, subjectPrefix: 'co' },
    });
  });

  it('reads every documented variable', () => {
    const config = loadServiceConfig('crew', {
      CO_HTTP_HOST: '127.0.0.1',
      CO_HTTP_PORT: '18081',
      CO_GRPC_PORT: '19081',
      CO_DB_URL: 'mysql://co:secret@db:3306/co_crew',
      CO_NATS_URL: 'nats://a:4222,nats://b:4222',
      CO_LOG_LEVEL: 'debug',
      CO_BODY_LIMIT_BYTES: '4096',
      CO_SHUTDOWN_TIMEOUT_MS: '500',
      CO_BUS_MAX_DELIVER: '9',
      CO_BUS_BACKOFF_MS: '250',
      CO_SUBJECT_PREFIX: 'staging',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      httpPort: 18081,
      grpcPort: 19081,
      dbUrl: 'mysql://co:secret@db:3306/co_crew',
      natsUrl: 'nats://a:4222,nats://b:4222',
      logLevel: 'debug',
      bodyLimitBytes: 4096,
      shutdownTimeoutMs: 500,
      bus: { maxDeliver: 9, backoffMs: 250, subjectPrefix: 'staging' },
      otlpEndpoint: 'http://jaeger:4318',
    });
  });

  it.each([
    ['CO_HTTP_PORT', '80a'],
    ['CO_HTTP_PORT', '65536'],
    ['CO_NATS_URL', 'localhost:4222'],
    ['CO_DB_URL', 'mysql://db:3306'],
    ['CO_BUS_MAX_DELIVER', '0'],
    ['CO_SUBJECT_PREFIX', 'Co.Prod'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'jaeger:4318'],
  ])('refuses %s=%s naming the variable and the value', (variable, value) => {
    let caught: unknown;
    try {
      loadServiceConfig('crew', { [variable]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toContain(`${variable} must`);
    expect((caught as ConfigError).message).toContain(JSON.stringify(value));
  });

  it('treats an empty variable as unset', () => {
    expect(loadServiceConfig('nucleus', { CO_HTTP_PORT: '' }).httpPort).toBe(8083);
  });
});
