import { Injectable } from '@nestjs/common';
import { AccessGate, type Action, type Principal } from '@co/auth';
import { organizationNotFound, projectNotFound } from './tenancy.service';

/**
 * The checks of the tenancy endpoints: an organization or project the caller may not
 * see answers 404 (ORG.NOT_FOUND, or PROJECT.NOT_FOUND inside a visible organization),
 * one they see but may not act on 403.
 */
@Injectable()
export class TenancyGate {
  constructor(private readonly gate: AccessGate) {}

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
}

export function actorOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.username : undefined;
}
