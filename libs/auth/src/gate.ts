import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Action } from './actions';
import { ACCESS_CONTROL, type AccessControl, type ListScope, type Principal, type ResourceRef } from './access';
import { ForbiddenError } from './errors';

/**
 * Checks inside a handler, for what a route decorator cannot know before the body is
 * read (the project a workflow is created in, say). Deny by default: a resource the
 * caller may not see is reported by `notFound`, exactly as if it did not exist.
 */
@Injectable()
export class AccessGate {
  private resolved?: AccessControl;

  constructor(private readonly modules: ModuleRef) {}

  /** The service's AccessControl, provided by its own module. */
  get access(): AccessControl {
    this.resolved ??= this.modules.get<AccessControl>(ACCESS_CONTROL, { strict: false });
    return this.resolved;
  }

  async require(principal: Principal, action: Action, resource: ResourceRef, notFound: () => Error): Promise<void> {
    const decision = await this.access.authorize(principal, action, resource);
    if (decision.allowed) return;
    if (!decision.visible) throw notFound();
    throw new ForbiddenError(action, decision.reason);
  }

  /** True when allowed; never throws for a denial. */
  async allows(principal: Principal, action: Action, resource: ResourceRef): Promise<boolean> {
    return (await this.access.authorize(principal, action, resource)).allowed;
  }

  scope(principal: Principal, action: Action): Promise<ListScope> {
    return this.access.listScope(principal, action);
  }
}

/**
 * An SQL condition (and its parameters) that keeps the rows a list scope allows.
 * `projectColumn` holds `org/project`; `ownerColumn` the creator's user id.
 */
export function scopeCondition(
  scope: ListScope,
  principal: Principal,
  projectColumn: string,
  ownerColumn: string,
): { sql: string; parameters: unknown[] } {
  if (scope.everywhere) return { sql: '1 = 1', parameters: [] };
  const parts: string[] = [];
  const parameters: unknown[] = [];
  const inProjects = (orgs: string[], projects: string[]) => {
    const clauses: string[] = [];
    for (const org of orgs) {
      clauses.push(`${projectColumn} LIKE ?`);
      parameters.push(`${org.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`);
    }
    if (projects.length) {
      clauses.push(`${projectColumn} IN (${projects.map(() => '?').join(', ')})`);
      parameters.push(...projects);
    }
    return clauses;
  };
  parts.push(...inProjects(scope.orgs, scope.projects));
  if (principal.kind === 'user') {
    if (scope.ownEverywhere) {
      parts.push(`${ownerColumn} = ?`);
      parameters.push(principal.userId);
    } else {
      const mark = parameters.length;
      const own = inProjects(scope.ownOrgs, scope.ownProjects);
      if (own.length) {
        parts.push(`(${ownerColumn} = ? AND (${own.join(' OR ')}))`);
        parameters.splice(mark, 0, principal.userId);
      }
    }
  }
  return parts.length ? { sql: `(${parts.join(' OR ')})`, parameters } : { sql: '1 = 0', parameters: [] };
}
