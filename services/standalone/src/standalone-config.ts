import type { ServiceConfig } from '@co/common';
import type { ServiceDefinition } from '@co/service-kit';
import { loadConfigOrExit } from '@co/service-kit';

/** Variables that name one service's own resources; in standalone mode they take a prefix. */
const PER_SERVICE = ['CO_HTTP_PORT', 'CO_GRPC_PORT', 'CO_DB_URL'] as const;

/**
 * The environment one service sees inside the standalone process: shared variables as
 * they are, and `CO_<SERVICE>_HTTP_PORT`, `CO_<SERVICE>_GRPC_PORT`, `CO_<SERVICE>_DB_URL`
 * in place of the unprefixed ones (which would make six services collide).
 */
export function serviceEnvironment(service: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const scoped: NodeJS.ProcessEnv = { ...env };
  for (const key of PER_SERVICE) {
    delete scoped[key];
    const prefixed = env[`CO_${service.toUpperCase()}_${key.slice('CO_'.length)}`];
    if (prefixed !== undefined) scoped[key] = prefixed;
  }
  return scoped;
}

export function standaloneConfigs(
  services: ServiceDefinition[],
  env: NodeJS.ProcessEnv,
): { definition: ServiceDefinition; config: ServiceConfig }[] {
  return services.map((definition) => ({
    definition,
    config: loadConfigOrExit(definition, serviceEnvironment(definition.name, env)),
  }));
}
