import { Injectable } from '@nestjs/common';
import { AccessGate, type Action, type Principal } from '@co/auth';
import { organizationNotFound, projectNotFound, TenancyService, type OrganizationView, type ProjectView } from './tenancy.service';

/**
 * The checks of the tenancy endpoints: an organization or project the caller may not
 * see answers 404 (ORG.NOT_FOUND, or PROJECT.NOT_FOUND inside a visible organization),
 * one they see but may not act on 403.
 */
@Injectable()
export class TenancyGate {
  constructor(
    private readonly gate: AccessGate,
    private readonly tenancy: TenancyService,
  ) {}

  async require(principal: Principal, action: Action, org: string, project?: string): Promise<void> {
    if (!project) return this.gate.require(principal, action, { org }, () => organizationNotFound(org));
    const decision = await this.gate.access.authorize(principal, action, { org, project });
    if (decision.allowed) return;
    if (!decision.visible && !(await this.gate.access.authorize(principal, 'organization:view', { org })).visible) throw organizationNotFound(org);
    await this.gate.require(principal, action, { org, project }, () => projectNotFound(org, project));
  }

  /** Platform-level actions (users, roles, creating organizations). */
  async requirePlatform(principal: Principal, action: Action): Promise<void> {
    await this.gate.require(principal, action, { org: '' }, () => organizationNotFound(''));
  }

  scope(principal: Principal, action: Action) {
    return this.gate.scope(principal, action);
  }

  /** The organizations the caller belongs to (all of them for a platform administrator). */
  async organizations(principal: Principal): Promise<OrganizationView[]> {
    const scope = await this.scope(principal, 'organization:view');
    const names = scope.everywhere ? 'all' : [...new Set([...scope.orgs, ...scope.projects.map((project) => project.split('/')[0])])];
    return this.tenancy.organizations(names);
  }

  /** The projects of a visible organization that the caller may see. */
  async projects(principal: Principal, org: string): Promise<ProjectView[]> {
    await this.require(principal, 'organization:view', org);
    const scope = await this.scope(principal, 'project:view');
    const all = await this.tenancy.projects(org);
    if (scope.everywhere || scope.orgs.includes(org)) return all;
    return all.filter((project) => scope.projects.includes(project.path));
  }
}

export function actorOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.username : undefined;
}
