import { loadCrewAccessSettings } from '@co/auth';
import type { ServiceDefinition } from '@co/service-kit';
import { loadDockyardSettings } from './dockyard-settings';
import { DockyardModule } from './dockyard.module';
import { DOCKYARD_PARTS } from './dockyard.parts-list';

export const dockyardService: ServiceDefinition = {
  name: 'dockyard',
  title: 'ContainerOps dockyard',
  description: 'ContainerOps dockyard: image, chart and binary repository.',
  module: DockyardModule,
  // Registry content (manifests, blobs, artifacts, charts) is stored as sent.
  rawBodyPaths: ['/v2/', '/binary/'],
  checkConfig: (env) => {
    loadDockyardSettings(env);
    loadCrewAccessSettings(env);
  },
  migrations: DOCKYARD_PARTS.flatMap((part) => part.migrations ?? []),
  projections: (context) => DOCKYARD_PARTS.flatMap((part) => part.projections?.(context) ?? []),
};
