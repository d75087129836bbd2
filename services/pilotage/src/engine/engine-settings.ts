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
}

export const ENGINE_ENV_KEYS = [
  'DOCKER_HOST',
  'CO_PILOTAGE_EVENT_BASE_URL',
  'CO_PILOTAGE_CONTAINER_NETWORK',
  'CO_PILOTAGE_KEEP_FAILED_CONTAINERS',
  'CO_PILOTAGE_STOP_GRACE_SECONDS',
  'CO_PILOTAGE_DEFAULT_CONCURRENCY',
  'CO_PILOTAGE_ENGINE',
] as const;

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

export function loadEngineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  const eventBaseUrl = env.CO_PILOTAGE_EVENT_BASE_URL || undefined;
  if (eventBaseUrl && !/^https?:\/\/[^\s]+$/.test(eventBaseUrl)) {
    throw new ConfigError('CO_PILOTAGE_EVENT_BASE_URL', `CO_PILOTAGE_EVENT_BASE_URL=${eventBaseUrl}: must be an http(s):// URL`);
  }
  const dockerHost = env.DOCKER_HOST || undefined;
  if (dockerHost && !/^(unix|tcp|http):\/\/.+/.test(dockerHost)) {
    throw new ConfigError('DOCKER_HOST', `DOCKER_HOST=${dockerHost}: must be unix:///path/to/socket or tcp://host:port`);
  }
  return {
    dockerHost,
    eventBaseUrl: eventBaseUrl?.replace(/\/+$/, ''),
    containerNetwork: env.CO_PILOTAGE_CONTAINER_NETWORK || undefined,
    keepFailedContainers: flag(env, 'CO_PILOTAGE_KEEP_FAILED_CONTAINERS', false),
    stopGraceSeconds: integer(env, 'CO_PILOTAGE_STOP_GRACE_SECONDS', 10, 0, 3600),
    defaultConcurrency: integer(env, 'CO_PILOTAGE_DEFAULT_CONCURRENCY', 5, 1, 100),
    engineEnabled: flag(env, 'CO_PILOTAGE_ENGINE', true),
  };
}
