import { type DynamicModule, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { json, text } from 'express';
import type { IncomingMessage, Server } from 'node:http';
import { ConfigError, loadServiceConfig, type ServiceConfig } from '@co/common';
import { protoFile } from '@co/proto';
import { shutdownTelemetry } from '@co/telemetry';
import { bodyErrorMiddleware } from './http/body-errors.middleware';
import { requestLogMiddleware } from './http/request-log.middleware';
import { tracingMiddleware } from './http/tracing.middleware';
import { NestPinoLogger } from './logging/nest-logger';
import { createRuntime, type RuntimeOptions, type ServiceRuntime } from './runtime';
import type { ServiceDefinition } from './service-definition';
import { ServiceKitModule } from './service-kit.module';

export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Exit code for a configuration error (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;
export const EXIT_STARTUP = 1;

export interface RunningService {
  name: string;
  app: INestApplication;
  runtime: ServiceRuntime;
  httpUrl: string;
  grpcAddress: string;
  /** Graceful stop: refuse new work, finish requests in flight, drain, close. */
  close(): Promise<void>;
}

@Module({})
class ServiceRootModule {}

export async function startService(
  definition: ServiceDefinition,
  config: ServiceConfig,
  options: RuntimeOptions = {},
): Promise<RunningService> {
  const runtime = await createRuntime(definition, config, options);
  let app: NestExpressApplication | undefined;
  try {
    const root: DynamicModule = {
      module: ServiceRootModule,
      imports: [ServiceKitModule.forRuntime(runtime), definition.module],
    };
    app = await NestFactory.create<NestExpressApplication>(root, {
      bodyParser: false,
      logger: new NestPinoLogger(runtime.logger),
      abortOnError: false,
    });
    app.disable('x-powered-by');
    app.use(tracingMiddleware(definition.name));
    app.use(requestLogMiddleware(runtime.logger));
    app.use(runtime.metrics.httpMiddleware());
    // Paths whose bodies are content to store byte for byte (registry blobs, manifests,
    // artifacts) reach their handlers unread, whatever their Content-Type says.
    const rawBodyPaths = definition.rawBodyPaths ?? [];
    const parsed = (types: string[]) => (req: IncomingMessage) => {
      if (rawBodyPaths.some((prefix) => (req.url ?? '').startsWith(prefix))) return false;
      const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      return types.includes(mediaType);
    };
    app.use(json({ limit: config.bodyLimitBytes, type: parsed(['application/json']) }));
    // Workflow and component documents may be posted as YAML; controllers parse them.
    app.use(text({ type: parsed(YAML_MEDIA_TYPES), limit: config.bodyLimitBytes }));
    app.use(bodyErrorMiddleware());
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle(definition.title)
        .setDescription(definition.description)
        .setVersion(process.env.npm_package_version ?? '0.1.0')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs/openapi.json' });
    const grpcAddress = `${config.host}:${config.grpcPort}`;
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.GRPC,
        options: {
          package: ['grpc.health.v1', ...(definition.grpc?.packages ?? [])],
          protoPath: [protoFile('grpc/health/v1/health.proto'), ...(definition.grpc?.protoFiles ?? []).map((file) => protoFile(file))],
          url: grpcAddress,
          loader: { keepCase: false, longs: String, enums: Number, defaults: true, oneofs: true },
        },
      },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
    await app.listen(config.httpPort, config.host);
    runtime.readiness.setAccepting(true);
    const started = app;
    const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
    return {
      name: definition.name,
      app: started,
      runtime,
      httpUrl: `http://${host}:${config.httpPort}`,
      grpcAddress: `${host}:${config.grpcPort}`,
      close: once(async () => {
        runtime.readiness.setAccepting(false);
        await closeHttpServer(started.getHttpServer() as Server, config.shutdownTimeoutMs);
        await started.close();
      }),
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await runtime.dispose().catch(() => undefined);
    throw error;
  }
}

/**
 * Stops listening, lets requests in flight finish (closing keep-alive connections as
 * they fall idle), and cuts what is left when the timeout expires.
 */
function closeHttpServer(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function once(work: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= work());
}

/** Prints one line to stderr and exits: how a service reports it cannot start. */
export function exitWith(code: number, line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(code);
}

export function loadConfigOrExit(definition: ServiceDefinition, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  try {
    const config = loadServiceConfig(definition.name, env);
    definition.checkConfig?.(env);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) exitWith(EXIT_CONFIG, `${definition.name}: configuration error: ${error.message}`);
    throw error;
  }
}

/** Runs `stop` on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function stopOnSignals(stop: () => Promise<void>, timeoutMs: number, log: (line: string) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal} received: stopping`);
    const force = setTimeout(() => {
      log(`still stopping after ${timeoutMs + 5000} ms: exiting`);
      process.exit(1);
    }, timeoutMs + 5000);
    force.unref();
    stop()
      .then(() => shutdownTelemetry())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** `main` of a service deployed on its own. */
export async function runServiceMain(definition: ServiceDefinition): Promise<void> {
  const config = loadConfigOrExit(definition);
  let running: RunningService;
  try {
    running = await startService(definition, config);
  } catch (error) {
    exitWith(EXIT_STARTUP, `${definition.name}: cannot start: ${(error as Error).message}`);
  }
  running.runtime.logger.info(
    { http: running.httpUrl, grpc: running.grpcAddress, bus: running.runtime.bus.kind, db: running.runtime.db.dialect },
    `${definition.name} ready`,
  );
  stopOnSignals(running.close, config.shutdownTimeoutMs, (line) => running.runtime.logger.info(line));
}
