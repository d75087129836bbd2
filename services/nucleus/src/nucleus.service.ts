import { loadCrewAccessSettings } from '@co/auth';
import type { ServiceDefinition } from '@co/service-kit';
import { componentsParts } from './components/components.parts';
import { NucleusModule } from './nucleus.module';
import { loadNucleusSettings } from './nucleus-settings';

export const nucleusService: ServiceDefinition = {
  name: 'nucleus',
  title: 'ContainerOps nucleus',
  description: 'ContainerOps nucleus: component registry.',
  module: NucleusModule,
  checkConfig: (env) => {
    loadNucleusSettings(env);
    loadCrewAccessSettings(env);
  },
  migrations: [...componentsParts.migrations],
  grpc: { packages: ['containerops.nucleus.v1'], protoFiles: ['containerops/nucleus/v1/nucleus.proto'] },
  projections: () => componentsParts.projections(),
};
