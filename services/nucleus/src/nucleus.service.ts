import type { ServiceDefinition } from '@co/service-kit';
import { NucleusModule } from './nucleus.module';

export const nucleusService: ServiceDefinition = {
  name: 'nucleus',
  title: 'ContainerOps nucleus',
  description: 'ContainerOps nucleus: component registry.',
  module: NucleusModule,
};
