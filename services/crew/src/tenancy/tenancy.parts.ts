import { ACCESS_CONTROL } from '@co/auth';
import type { CrewParts } from '../crew-parts';
import { CreateTenancy1764000000000 } from '../migrations/1764000000000-create-tenancy';
import { AccessGrpcController } from './access.grpc.controller';
import { LocalAccessControl } from './local-access-control';
import { OrganizationsController } from './organizations.controller';
import { PlatformController } from './platform.controller';
import { RolesGrpcController } from './roles.grpc.controller';
import { TenancyGrpcController } from './tenancy.grpc.controller';
import { TenancyGate } from './tenancy-gate';
import { TenancyProjection } from './tenancy.projection';
import { TenancyService } from './tenancy.service';

/** Tenancy: organizations, projects, memberships, roles, and crew's access decisions. */
export const tenancyParts: CrewParts = {
  controllers: [OrganizationsController, PlatformController, AccessGrpcController, TenancyGrpcController, RolesGrpcController],
  providers: [TenancyService, TenancyGate, LocalAccessControl, { provide: ACCESS_CONTROL, useExisting: LocalAccessControl }],
  migrations: [CreateTenancy1764000000000],
  projections: () => [new TenancyProjection()],
};
