import type { ServiceDefinition } from '@co/service-kit';
import { DockyardModule } from './dockyard.module';

export const dockyardService: ServiceDefinition = {
  name: 'dockyard',
  title: 'ContainerOps dockyard',
  description: 'ContainerOps dockyard: image, chart and binary repository.',
  module: DockyardModule,
};
