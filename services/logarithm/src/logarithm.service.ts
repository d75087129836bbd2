import { loadCrewAccessSettings } from '@co/auth';
import type { ServiceDefinition } from '@co/service-kit';
import { LogarithmModule } from './logarithm.module';
import { LOGARITHM_PARTS } from './logarithm.parts-list';
import { loadLogarithmSettings } from './logarithm-settings';
import { loadMaskSettings } from './masking/mask-settings';
import { loadTailSettings } from './tail/tail-settings';

/** Paths whose bodies the push handlers read themselves (their own size limit, gzip). */
export const PUSH_PATHS = ['/loki/api/v1/push', '/api/v1/logs/push'];

export const logarithmService: ServiceDefinition = {
  name: 'logarithm',
  title: 'ContainerOps logarithm',
  description: 'ContainerOps logarithm: log collection, query, live tail and download.',
  module: LogarithmModule,
  rawBodyPaths: PUSH_PATHS,
  checkConfig: (env) => {
    loadLogarithmSettings(env);
    loadTailSettings(env);
    loadMaskSettings(env);
    loadCrewAccessSettings(env);
  },
  grpc: { packages: ['containerops.logarithm.v1'], protoFiles: ['containerops/logarithm/v1/logarithm.proto'] },
  migrations: LOGARITHM_PARTS.flatMap((part) => part.migrations ?? []),
  projections: (context) => LOGARITHM_PARTS.flatMap((part) => part.projections?.(context) ?? []),
};
