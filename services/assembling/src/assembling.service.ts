import type { ServiceDefinition } from '@co/service-kit';
import { AssemblingModule } from './assembling.module';

export const assemblingService: ServiceDefinition = {
  name: 'assembling',
  title: 'ContainerOps assembling',
  description: 'ContainerOps assembling: builds: source to image.',
  module: AssemblingModule,
};
