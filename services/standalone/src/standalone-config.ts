import { ConfigError, loadServiceConfig, type ServiceConfig } from '@co/common';
import { EXIT_CONFIG, exitWith, type ServiceDefinition } from '@co/service-kit';

/** Variables that name one service's own resources; in standalone mode they take a prefix. */
const PER_SERVICE = ['CO_HTTP_PORT', 'CO_GRPC_PORT', 'CO_DB_URL'] as const;

function prefixed(service: string, variable: string): string {
  return `CO_${service.toUpperCase()}_${variable.slice('CO_'.length)}`;
}

/**
 * The environment one service sees inside the standalone process: shared variables as
 * they are, and `CO_<SERVICE>_HTTP_PORT`, `CO_<SERVICE>_GRPC_PORT`, `CO_<SERVICE>_DB_URL`
 * in place of the unprefixed ones (which would make six services collide).
 */
export function serviceEnvironment(service: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const scoped: NodeJS.ProcessEnv = { ...env };
  for (const key of PER_SERVICE) {
    delete scoped[key];
    const value = env[prefixed(service, key)];
    if (value !== undefined) scoped[key] = value;
  }
  return scoped;
}

/** Every service's configuration; the first bad value stops the launcher with one line. */
export function standaloneConfigs(
  services: ServiceDefinition[],
  env: NodeJS.ProcessEnv,
): { definition: ServiceDefinition; config: ServiceConfig }[] {
  for (const key of PER_SERVICE) {
    if (env[key] !== undefined && env[key] !== '') {
      exitWith(
        EXIT_CONFIG,
        `standalone: configuration error: ${key} names one service's ${key === 'CO_DB_URL' ? 'database' : 'port'}; in standalone mode set CO_<SERVICE>_${key.slice('CO_'.length)} instead, e.g. ${prefixed('pilotage', key)}`,
      );
    }
  }
  return services.map((definition) => {
    try {
      const config = loadServiceConfig(definition.name, serviceEnvironment(definition.name, env));
      definition.checkConfig?.(env);
      return { definition, config };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const message = (PER_SERVICE as readonly string[]).includes(error.variable)
        ? error.message.replace(error.variable, prefixed(definition.name, error.variable))
        : error.message;
      exitWith(EXIT_CONFIG, `standalone: configuration error: ${message}`);
    }
  });
}

/**
 * Where the other services reach crew inside this process: crew's own ports (which
 * CO_CREW_HTTP_PORT / CO_CREW_GRPC_PORT may have moved), unless CO_CREW_URL or
 * CO_CREW_GRPC_ADDRESS say otherwise. Returns only the variables to set.
 */
export function crewAddresses(configs: { config: ServiceConfig }[], env: NodeJS.ProcessEnv): Record<string, string> {
  const crew = configs.find(({ config }) => config.service === 'crew')?.config;
  if (!crew) return {};
  const host = reachableHost(crew.host);
  const addresses: Record<string, string> = {};
  if (!env.CO_CREW_URL) addresses.CO_CREW_URL = `http://${host}:${crew.httpPort}`;
  if (!env.CO_CREW_GRPC_ADDRESS) addresses.CO_CREW_GRPC_ADDRESS = `${host}:${crew.grpcPort}`;
  return addresses;
}

/**
 * Where pilotage reaches nucleus inside this process: nucleus' own gRPC port (which
 * CO_NUCLEUS_GRPC_PORT may have moved), unless CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS says
 * otherwise. Returns only the variables to set.
 */
export function nucleusAddresses(configs: { config: ServiceConfig }[], env: NodeJS.ProcessEnv): Record<string, string> {
  const nucleus = configs.find(({ config }) => config.service === 'nucleus')?.config;
  if (!nucleus || env.CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS) return {};
  return { CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: `${reachableHost(nucleus.host)}:${nucleus.grpcPort}` };
}

/**
 * Where pilotage reaches logarithm inside this process (task logs are read there, run
 * secrets registered there), unless CO_PILOTAGE_LOGARITHM_URL / _GRPC_ADDRESS say otherwise.
 */
export function logarithmAddresses(configs: { config: ServiceConfig }[], env: NodeJS.ProcessEnv): Record<string, string> {
  const logarithm = configs.find(({ config }) => config.service === 'logarithm')?.config;
  if (!logarithm) return {};
  const host = reachableHost(logarithm.host);
  const addresses: Record<string, string> = {};
  if (!env.CO_PILOTAGE_LOGARITHM_URL) addresses.CO_PILOTAGE_LOGARITHM_URL = `http://${host}:${logarithm.httpPort}`;
  if (!env.CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS) addresses.CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS = `${host}:${logarithm.grpcPort}`;
  return addresses;
}

/** A listening address as a client dials it: the wildcard becomes loopback, IPv6 gets brackets. */
function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}
