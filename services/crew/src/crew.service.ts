import type { ServiceDefinition } from '@co/service-kit';
import { loadCrewSettings } from './crew-settings';
import { CrewModule } from './crew.module';
import { CreateCrew1763900000000 } from './migrations/1763900000000-create-crew';
import { UsersProjection } from './users/users.projection';
import { CREW_PARTS } from './crew.parts-list';
import { loadAuditSettings } from './audit/audit-settings';
import { loadQuotaDefaults } from './quotas/quota-defaults';

export const crewService: ServiceDefinition = {
  name: 'crew',
  title: 'ContainerOps crew',
  description: 'ContainerOps crew: tenancy and access: users, organizations, projects, roles, tokens, quotas and audit.',
  module: CrewModule,
  grpc: { packages: ['containerops.crew.v1'], protoFiles: ['containerops/crew/v1/crew.proto'] },
  checkConfig: (env) => {
    loadCrewSettings(env);
    loadAuditSettings(env);
    loadQuotaDefaults(env);
  },
  migrations: [CreateCrew1763900000000, ...CREW_PARTS.flatMap((part) => part.migrations ?? [])],
  projections: (context) => [new UsersProjection(), ...CREW_PARTS.flatMap((part) => part.projections?.(context) ?? [])],
};
