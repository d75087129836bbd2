import type { ServiceDefinition } from '@co/service-kit';
import { LogarithmModule } from './logarithm.module';

export const logarithmService: ServiceDefinition = {
  name: 'logarithm',
  title: 'ContainerOps logarithm',
  description: 'ContainerOps logarithm: log collection, query, live tail and download.',
  module: LogarithmModule,
};
