import { ConflictError } from '@co/common';
import type { UsersService } from '../users/users.service';
import { ADMIN_USERNAME } from '../users/admin-bootstrap';
import type { TenancyService } from './tenancy.service';

export const DEFAULT_ORG = 'default';
export const ADMIN_PROJECT_NAME = 'admin';

/**
 * First start: organization `default` with project `admin`, and `admin` a platform
 * administrator. Every step is idempotent and decided by expected versions, so
 * restarts and concurrent replicas end in the same state.
 */
export async function bootstrapTenancy(tenancy: TenancyService, users: UsersService): Promise<void> {
  if (!(await tenancy.organization(DEFAULT_ORG))) {
    await tenancy.createOrganization({ name: DEFAULT_ORG, description: 'The organization of the platform administrators' }, 'bootstrap').catch(ignoreConflict);
  }
  if (!(await tenancy.project(DEFAULT_ORG, ADMIN_PROJECT_NAME))) {
    await tenancy
      .createProject(DEFAULT_ORG, { name: ADMIN_PROJECT_NAME, description: 'Platform administration: clusters and platform workflows' }, 'bootstrap')
      .catch(ignoreConflict);
  }
  const adminId = await users.nameHolder(ADMIN_USERNAME);
  if (adminId) await tenancy.grantPlatformAdminTo(adminId, ADMIN_USERNAME, 'bootstrap');
}

function ignoreConflict(error: unknown): void {
  if (!(error instanceof ConflictError)) throw error;
}
