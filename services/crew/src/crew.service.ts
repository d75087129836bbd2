import type { ServiceDefinition } from '@co/service-kit';
import { CrewModule } from './crew.module';

export const crewService: ServiceDefinition = {
  name: 'crew',
  title: 'ContainerOps crew',
  description: 'ContainerOps crew: tenancy and access: users, organizations, projects, roles, tokens, quotas and audit.',
  module: CrewModule,
};
