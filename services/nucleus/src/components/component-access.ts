import { Injectable } from '@nestjs/common';
import { AccessGate, ForbiddenError, scopeCondition, type Action, type ListScope, type Principal } from '@co/auth';
import { NotFoundError } from '@co/common';

export function componentNotFound(namespace: string, name: string): NotFoundError {
  return new NotFoundError('COMPONENT.NOT_FOUND', `Component ${namespace}/${name} does not exist, or you may not see it; list the components you may see with GET /api/v1/components.`);
}

/** What decides who sees a component: its organization (namespace) and visibility. */
export interface ComponentPlace {
  namespace: string;
  name: string;
  project: string;
  visibility: string;
}

/**
 * Who sees and changes components. A `public` component is seen by everybody signed
 * in; an `org` one by whoever may `component:view` anywhere in its organization (in
 * any of its projects), and by nobody else: to them it does not exist (404).
 * Publishing needs `component:publish` and deprecating or yanking
 * `component:deprecate`, both in the component's own project.
 */
@Injectable()
export class ComponentAccess {
  constructor(private readonly gate: AccessGate) {}

  /** The organizations in which the caller sees `org` components, or everywhere. */
  async viewScope(principal: Principal): Promise<ListScope> {
    const scope = await this.gate.scope(principal, 'component:view');
    if (scope.everywhere) return scope;
    const orgs = new Set([...scope.orgs, ...scope.projects.map((place) => place.split('/')[0])]);
    return { everywhere: false, orgs: [...orgs], projects: [], ownEverywhere: false, ownOrgs: [], ownProjects: [] };
  }

  /** SQL that keeps the components the caller sees; `placeColumn` holds `<namespace>/<project>`. */
  async visibleCondition(principal: Principal, placeColumn: string, visibilityColumn: string): Promise<{ sql: string; parameters: unknown[] }> {
    const condition = scopeCondition(await this.viewScope(principal), principal, placeColumn, 'owner_id');
    return { sql: `(${visibilityColumn} = 'public' OR ${condition.sql})`, parameters: condition.parameters };
  }

  async canView(principal: Principal, component: ComponentPlace): Promise<boolean> {
    if (component.visibility === 'public') return true;
    const scope = await this.viewScope(principal);
    return scope.everywhere || scope.orgs.includes(component.namespace);
  }

  async requireView(principal: Principal, component: ComponentPlace): Promise<void> {
    if (!(await this.canView(principal, component))) throw componentNotFound(component.namespace, component.name);
  }

  /** A change to a component the caller sees but may not make is a 403; one they cannot see, a 404. */
  async requireChange(principal: Principal, action: Action, component: ComponentPlace): Promise<void> {
    const decision = await this.gate.access.authorize(principal, action, { org: component.namespace, project: component.project, id: `${component.namespace}.${component.name}` });
    if (decision.allowed) return;
    if (!(await this.canView(principal, component))) throw componentNotFound(component.namespace, component.name);
    throw new ForbiddenError(action, decision.reason);
  }

  /** Publishing into `namespace/project`: an organization the caller cannot see answers 404. */
  async requirePublish(principal: Principal, namespace: string, project: string): Promise<void> {
    await this.gate.require(principal, 'component:publish', { org: namespace, project }, () =>
      new NotFoundError('COMPONENT.NAMESPACE_NOT_FOUND', `Namespace ${namespace} is not an organization you may publish in; metadata.namespace must be the slug of your organization.`),
    );
  }
}
