import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import * as path from 'node:path';

export const SERVICE_NAMES = ['pilotage', 'crew', 'dockyard', 'nucleus', 'logarithm', 'assembling'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_PORTS: Record<ServiceName, { http: number; grpc: number }> = {
  pilotage: { http: 8080, grpc: 9080 },
  crew: { http: 8081, grpc: 9081 },
  dockyard: { http: 5000, grpc: 9082 },
  nucleus: { http: 8083, grpc: 9083 },
  logarithm: { http: 8084, grpc: 9084 },
  assembling: { http: 8085, grpc: 9085 },
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Raised when the environment cannot be turned into a valid configuration. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * A whole-number setting of a service's own (`CO_<SERVICE>_*`): unset or empty gives
 * `fallback`; anything but digits in `[min, max]` is a ConfigError naming the variable.
 */
export function wholeNumberSetting(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(variable, `${variable} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

/** A true/false setting of a service's own: unset or empty gives `fallback`; `true`/`false` in any case; anything else is a ConfigError. */
export function booleanSetting(env: NodeJS.ProcessEnv, variable: string, fallback: boolean): boolean {
  const raw = env[variable]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(variable, `${variable} must be true or false (got ${JSON.stringify(env[variable])})`);
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

/**
 * The environment variables one service process reads, with their rules. Property
 * names are the variable names, so a validation message names what to fix.
 */
class ServiceEnvironment {
  @IsOptional()
  @IsString()
  CO_HTTP_HOST?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer port between 1 and 65535' })
  @Min(1, { message: 'must be an integer port between 1 and 65535' })
  @Max(65535, { message: 'must be an integer port between 1 and 65535' })
  CO_HTTP_PORT?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer port between 1 and 65535' })
  @Min(1, { message: 'must be an integer port between 1 and 65535' })
  @Max(65535, { message: 'must be an integer port between 1 and 65535' })
  CO_GRPC_PORT?: number;

  @IsOptional()
  @Matches(/^(mysql|mariadb):\/\/[^/]+\/[A-Za-z0-9_]+(\?.*)?$|^sqlite:.+$/, {
    message: 'must be mysql://user:password@host:port/database or sqlite:<file path>',
  })
  CO_DB_URL?: string;

  @IsOptional()
  @Matches(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, {
    message: 'must be one or more nats://host:port URLs separated by commas',
  })
  CO_NATS_URL?: string;

  @IsOptional()
  @IsString()
  CO_DATA_DIR?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  CO_LOG_LEVEL?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer number of bytes between 1024 and 1073741824' })
  @Min(1024, { message: 'must be an integer number of bytes between 1024 and 1073741824' })
  @Max(1073741824, { message: 'must be an integer number of bytes between 1024 and 1073741824' })
  CO_BODY_LIMIT_BYTES?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer number of milliseconds between 0 and 600000' })
  @Min(0, { message: 'must be an integer number of milliseconds between 0 and 600000' })
  @Max(600000, { message: 'must be an integer number of milliseconds between 0 and 600000' })
  CO_SHUTDOWN_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer between 1 and 100' })
  @Min(1, { message: 'must be an integer between 1 and 100' })
  @Max(100, { message: 'must be an integer between 1 and 100' })
  CO_BUS_MAX_DELIVER?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'must be an integer number of milliseconds between 10 and 600000' })
  @Min(10, { message: 'must be an integer number of milliseconds between 10 and 600000' })
  @Max(600000, { message: 'must be an integer number of milliseconds between 10 and 600000' })
  CO_BUS_BACKOFF_MS?: number;

  @IsOptional()
  @Matches(/^[a-z][a-z0-9]{0,15}$/, { message: 'must be 1-16 lowercase letters or digits, starting with a letter' })
  CO_SUBJECT_PREFIX?: string;

  @IsOptional()
  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s):// URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
}

export interface ServiceConfig {
  service: ServiceName;
  host: string;
  httpPort: number;
  grpcPort: number;
  /** `mysql://…` for a MySQL-compatible server, `sqlite:<path>` for the embedded default. */
  dbUrl: string;
  /** Absent: the in-process bus (only meaningful when all services share one process). */
  natsUrl?: string;
  dataDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  bus: { maxDeliver: number; backoffMs: number; subjectPrefix: string };
  otlpEndpoint?: string;
}

/**
 * Reads and validates one service's configuration from environment variables, once,
 * at start. The first problem found is thrown as a ConfigError naming the variable.
 */
export function loadServiceConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const raw: Record<string, string> = {};
  for (const key of envKeys()) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = plainToInstance(ServiceEnvironment, raw);
  const errors = validateSync(parsed, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const first = errors[0];
    const reason = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    const shown = JSON.stringify(raw[first.property]);
    const message = reason.startsWith(first.property) ? reason : `${first.property} ${reason} (got ${shown})`;
    throw new ConfigError(first.property, message);
  }
  const dataDir = path.resolve(parsed.CO_DATA_DIR ?? './data');
  return {
    service,
    host: parsed.CO_HTTP_HOST ?? '0.0.0.0',
    httpPort: parsed.CO_HTTP_PORT ?? DEFAULT_PORTS[service].http,
    grpcPort: parsed.CO_GRPC_PORT ?? DEFAULT_PORTS[service].grpc,
    dbUrl: parsed.CO_DB_URL ?? `sqlite:${path.join(dataDir, `${service}.sqlite`)}`,
    natsUrl: parsed.CO_NATS_URL,
    dataDir,
    logLevel: (parsed.CO_LOG_LEVEL as ServiceConfig['logLevel']) ?? 'info',
    bodyLimitBytes: parsed.CO_BODY_LIMIT_BYTES ?? 1024 * 1024,
    shutdownTimeoutMs: parsed.CO_SHUTDOWN_TIMEOUT_MS ?? 10_000,
    bus: {
      maxDeliver: parsed.CO_BUS_MAX_DELIVER ?? 5,
      backoffMs: parsed.CO_BUS_BACKOFF_MS ?? 1000,
      subjectPrefix: parsed.CO_SUBJECT_PREFIX ?? 'co',
    },
    otlpEndpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}

/** Every variable a service reads; the compose-file check uses this list. */
export function envKeys(): string[] {
  return [
    'CO_HTTP_HOST',
    'CO_HTTP_PORT',
    'CO_GRPC_PORT',
    'CO_DB_URL',
    'CO_NATS_URL',
    'CO_DATA_DIR',
    'CO_LOG_LEVEL',
    'CO_BODY_LIMIT_BYTES',
    'CO_SHUTDOWN_TIMEOUT_MS',
    'CO_BUS_MAX_DELIVER',
    'CO_BUS_BACKOFF_MS',
    'CO_SUBJECT_PREFIX',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
  ];
}
