import { ConfigError } from '@co/common';

/** How a service reaches crew for access decisions. */
export interface CrewAccessSettings {
  /** crew's HTTP base URL; its signing keys are at `<url>/.well-known/jwks.json`. */
  crewUrl: string;
  /** crew's gRPC address (`host:port`): containerops.crew.v1.AccessService. */
  grpcAddress: string;
  /** How long an answer of crew is reused; 0 asks crew every time. */
  cacheSeconds: number;
  /** Most answers kept; the oldest go first. */
  cacheMaxEntries: number;
  /** How long one call to crew may take before the request answers 503. */
  deadlineMs: number;
}

/** The variables loadCrewAccessSettings reads (for checks of deployment files). */
export const CREW_ACCESS_ENV_KEYS = ['CO_CREW_URL', 'CO_CREW_GRPC_ADDRESS', 'CO_AUTHZ_CACHE_SECONDS'] as const;

export const CREW_ACCESS_DEFAULTS = {
  crewUrl: 'http://127.0.0.1:8081',
  grpcAddress: '127.0.0.1:9081',
  cacheSeconds: 10,
  cacheMaxEntries: 10_000,
  deadlineMs: 5_000,
} as const;

const MAX_CACHE_SECONDS = 300;

/**
 * Reads CO_CREW_URL, CO_CREW_GRPC_ADDRESS and CO_AUTHZ_CACHE_SECONDS once; a bad value
 * is a ConfigError naming the variable. Empty values count as unset.
 */
export function loadCrewAccessSettings(env: NodeJS.ProcessEnv = process.env): CrewAccessSettings {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]!.trim());
  const crewUrl = value('CO_CREW_URL') ?? CREW_ACCESS_DEFAULTS.crewUrl;
  let parsed: URL | undefined;
  try {
    parsed = new URL(crewUrl);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
    throw new ConfigError('CO_CREW_URL', `CO_CREW_URL must be crew's http(s):// base URL, e.g. ${CREW_ACCESS_DEFAULTS.crewUrl} (got ${JSON.stringify(crewUrl)})`);
  }
  const grpcAddress = value('CO_CREW_GRPC_ADDRESS') ?? CREW_ACCESS_DEFAULTS.grpcAddress;
  if (!/^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(grpcAddress) || Number(grpcAddress.slice(grpcAddress.lastIndexOf(':') + 1)) > 65535) {
    throw new ConfigError(
      'CO_CREW_GRPC_ADDRESS',
      `CO_CREW_GRPC_ADDRESS must be crew's gRPC host:port, e.g. ${CREW_ACCESS_DEFAULTS.grpcAddress} (got ${JSON.stringify(grpcAddress)})`,
    );
  }
  const cache = value('CO_AUTHZ_CACHE_SECONDS');
  const cacheSeconds = cache === undefined ? CREW_ACCESS_DEFAULTS.cacheSeconds : /^\d+$/.test(cache) ? Number(cache) : NaN;
  if (!Number.isInteger(cacheSeconds) || cacheSeconds > MAX_CACHE_SECONDS) {
    throw new ConfigError(
      'CO_AUTHZ_CACHE_SECONDS',
      `CO_AUTHZ_CACHE_SECONDS must be an integer number of seconds between 0 (no cache) and ${MAX_CACHE_SECONDS} (got ${JSON.stringify(cache)})`,
    );
  }
  return {
    crewUrl: crewUrl.replace(/\/+$/, ''),
    grpcAddress,
    cacheSeconds,
    cacheMaxEntries: CREW_ACCESS_DEFAULTS.cacheMaxEntries,
    deadlineMs: CREW_ACCESS_DEFAULTS.deadlineMs,
  };
}
