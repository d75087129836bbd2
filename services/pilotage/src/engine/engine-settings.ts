import { readFileSync } from 'node:fs';
import { ConfigError } from '@co/common';

/** Engine settings, read once at start from `CO_PILOTAGE_*` (and `DOCKER_HOST`). */
export interface EngineSettings {
  /** Docker Engine API endpoint (`unix:///…` or `tcp://…`); found automatically when absent. */
  dockerHost?: string;
  /** Base URL at which task containers reach pilotage's HTTP API (for CO_EVENT_URL). */
  eventBaseUrl?: string;
  /** Docker network mode for task containers; the engine's default when absent. */
  containerNetwork?: string;
  /** Keep the containers of failed attempts for inspection. */
  keepFailedContainers: boolean;
  /** Seconds between SIGTERM and SIGKILL when a task is stopped. */
  stopGraceSeconds: number;
  /** Runs of one workflow at once when the workflow does not say. */
  defaultConcurrency: number;
  /** Set to false on replicas that only serve the API. */
  engineEnabled: boolean;
  /** Registry credentials by registry host, read from a Docker `config.json`-style file. */
  registryAuth: Record<string, { username: string; password: string }>;
  /** nucleus' gRPC `host:port`, asked to resolve and pin component actions when a workflow is saved. */
  nucleusGrpcAddress: string;
  /** logarithm's gRPC `host:port`: the secret values of each run are registered there for masking. */
  logarithmGrpcAddress: string;
  /** logarithm's HTTP base URL, to which the task log endpoint forwards its reads. */
  logarithmUrl: string;
  /** logarithm's base URL as users reach it, for the log links of the run view. */
  logarithmPublicUrl: string;
}

export const NUCLEUS_GRPC_DEFAULT = '127.0.0.1:9083';
export const LOGARITHM_GRPC_DEFAULT = '127.0.0.1:9084';
export const LOGARITHM_URL_DEFAULT = 'http://127.0.0.1:8084';

export const ENGINE_ENV_KEYS = [
  'DOCKER_HOST',
  'CO_PILOTAGE_EVENT_BASE_URL',
  'CO_PILOTAGE_CONTAINER_NETWORK',
  'CO_PILOTAGE_KEEP_FAILED_CONTAINERS',
  'CO_PILOTAGE_STOP_GRACE_SECONDS',
  'CO_PILOTAGE_DEFAULT_CONCURRENCY',
  'CO_PILOTAGE_ENGINE',
  'CO_PILOTAGE_REGISTRY_AUTH_FILE',
  'CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS',
  'CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS',
  'CO_PILOTAGE_LOGARITHM_URL',
  'CO_PILOTAGE_LOGARITHM_PUBLIC_URL',
] as const;

/**
 * `{"auths": {"<registry host>": {"auth": "<base64 user:password>"}}}` (what `docker
 * login` and `podman login --authfile` write), or with `username` and `password`.
 */
function registryAuth(file: string | undefined): EngineSettings['registryAuth'] {
  if (!file) return {};
  const fail = (why: string): never => {
    throw new ConfigError('CO_PILOTAGE_REGISTRY_AUTH_FILE', `CO_PILOTAGE_REGISTRY_AUTH_FILE=${file}: ${why}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return fail(`cannot be read as JSON (${(error as Error).message})`);
  }
  const auths = (parsed as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null) return fail('must hold {"auths": {"<registry host>": {"auth": "<base64 user:password>"}}}');
  const result: EngineSettings['registryAuth'] = {};
  for (const [host, entry] of Object.entries(auths as Record<string, { auth?: string; username?: string; password?: string }>)) {
    if (entry?.username !== undefined && entry.password !== undefined) {
      result[host] = { username: entry.username, password: entry.password };
      continue;
    }
    const decoded = entry?.auth ? Buffer.from(entry.auth, 'base64').toString() : '';
    const colon = decoded.indexOf(':');
    if (colon < 1) fail(`auths["${host}"] needs "auth" (base64 of user:password) or "username" and "password"`);
    result[host] = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return result;
}

function integer(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `${key}=${raw}: must be an integer between ${min} and ${max}`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(key, `${key}=${raw}: must be true or false`);
}

function grpcAddress(env: NodeJS.ProcessEnv, key: string, fallback: string, what: string): string {
  const address = env[key] || fallback;
  if (!/^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(address) || Number(address.slice(address.lastIndexOf(':') + 1)) > 65535) {
    throw new ConfigError(key, `${key} must be ${what} gRPC host:port, e.g. ${fallback} (got ${JSON.stringify(address)})`);
  }
  return address;
}

function httpUrl(env: NodeJS.ProcessEnv, key: string, fallback: string): string {
  const url = env[key] || fallback;
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new ConfigError(key, `${key}=${url}: must be an http(s):// URL`);
  return url.replace(/\/+$/, '');
}

export function loadEngineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  const eventBaseUrl = env.CO_PILOTAGE_EVENT_BASE_URL || undefined;
  if (eventBaseUrl && !/^https?:\/\/[^\s]+$/.test(eventBaseUrl)) {
    throw new ConfigError('CO_PILOTAGE_EVENT_BASE_URL', `CO_PILOTAGE_EVENT_BASE_URL=${eventBaseUrl}: must be an http(s):// URL`);
  }
  const dockerHost = env.DOCKER_HOST || undefined;
  if (dockerHost && !/^(unix|tcp|http):\/\/.+/.test(dockerHost)) {
    throw new ConfigError('DOCKER_HOST', `DOCKER_HOST=${dockerHost}: must be unix:///path/to/socket or tcp://host:port`);
  }
  const nucleusGrpcAddress = grpcAddress(env, 'CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS', NUCLEUS_GRPC_DEFAULT, "nucleus'");
  const logarithmUrl = httpUrl(env, 'CO_PILOTAGE_LOGARITHM_URL', LOGARITHM_URL_DEFAULT);
  return {
    dockerHost,
    nucleusGrpcAddress,
    logarithmGrpcAddress: grpcAddress(env, 'CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS', LOGARITHM_GRPC_DEFAULT, "logarithm's"),
    logarithmUrl,
    logarithmPublicUrl: httpUrl(env, 'CO_PILOTAGE_LOGARITHM_PUBLIC_URL', logarithmUrl),
    eventBaseUrl: eventBaseUrl?.replace(/\/+$/, ''),
    containerNetwork: env.CO_PILOTAGE_CONTAINER_NETWORK || undefined,
    keepFailedContainers: flag(env, 'CO_PILOTAGE_KEEP_FAILED_CONTAINERS', false),
    stopGraceSeconds: integer(env, 'CO_PILOTAGE_STOP_GRACE_SECONDS', 10, 0, 3600),
    defaultConcurrency: integer(env, 'CO_PILOTAGE_DEFAULT_CONCURRENCY', 5, 1, 100),
    engineEnabled: flag(env, 'CO_PILOTAGE_ENGINE', true),
    registryAuth: registryAuth(env.CO_PILOTAGE_REGISTRY_AUTH_FILE || undefined),
  };
}
