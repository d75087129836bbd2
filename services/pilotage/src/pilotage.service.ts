import type { ServiceDefinition } from '@co/service-kit';
import { PilotageModule } from './pilotage.module';

export const pilotageService: ServiceDefinition = {
  name: 'pilotage',
  title: 'ContainerOps pilotage',
  description: 'ContainerOps pilotage: orchestration engine: workflows, runs, triggers and runtimes.',
  module: PilotageModule,
};
