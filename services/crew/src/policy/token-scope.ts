import type { Action, Decision, ListScope, ResourceRef } from '@co/auth';
import { NOWHERE } from '@co/auth';
import type { ApiTokenScope } from '../tokens/api-token.port';

/**
 * A personal API token narrows what its user may do: only its actions (when listed),
 * only in its projects (when listed). `scope` undefined: the token is no longer active.
 */
export function narrowDecision(decision: Decision, scope: ApiTokenScope | undefined, action: Action, resource: ResourceRef): Decision {
  if (!decision.allowed) return decision;
  if (!scope) return { allowed: false, visible: decision.visible, reason: 'the API token is no longer active' };
  if (scope.actions && !scope.actions.includes(action)) {
    return { allowed: false, visible: decision.visible, reason: `the API token does not grant ${action}` };
  }
  if (scope.projects) {
    const project = resource.project ? `${resource.org}/${resource.project}` : undefined;
    if (!project || !scope.projects.includes(project)) {
      return { allowed: false, visible: decision.visible, reason: `the API token is limited to ${scope.projects.join(', ') || 'no project'}` };
    }
  }
  return decision;
}

export function narrowScope(listed: ListScope, scope: ApiTokenScope | undefined, action: Action): ListScope {
  if (!scope || (scope.actions && !scope.actions.includes(action))) return NOWHERE;
  if (!scope.projects) return listed;
  const inOrgs = (orgs: string[], projects: string[], project: string) => orgs.includes(project.split('/')[0]) || projects.includes(project);
  const allowed = (project: string) => listed.everywhere || inOrgs(listed.orgs, listed.projects, project);
  const projects = scope.projects.filter(allowed);
  const ownProjects = scope.projects.filter((project) => !allowed(project) && (listed.ownEverywhere || inOrgs(listed.ownOrgs, listed.ownProjects, project)));
  return { everywhere: false, orgs: [], projects, ownEverywhere: false, ownOrgs: [], ownProjects };
}
