import { type Action, RESOURCE_ACTIONS, type ResourceType } from '@co/auth';

/**
 * Roles are data: a role grants rules, a rule grants actions on one resource type in
 * a scope. The built-in roles below are code (they cannot be redefined); custom roles
 * are defined by a platform administrator and kept as events.
 */
export type RoleLevel = 'platform' | 'org' | 'project';

/**
 * Where a rule applies, among the resources its binding reaches:
 * - `all`: everywhere the binding reaches (a platform binding: everywhere);
 * - `joined-projects`: the same for an organization or project binding; for a
 *   platform binding, only where the user also has an organization or project binding;
 * - `own-objects`: reached, and created by the user.
 */
export type RuleScope = 'all' | 'joined-projects' | 'own-objects';

export const RULE_SCOPES: readonly RuleScope[] = ['all', 'joined-projects', 'own-objects'];

export interface Rule {
  resource: ResourceType;
  /** Verbs of `resource`, e.g. `view` for workflow:view. */
  actions: string[];
  scope: RuleScope;
  /** `org/project` names: the rule applies only there. */
  projects?: string[];
}

export interface Role {
  name: string;
  description: string;
  level: RoleLevel;
  builtIn: boolean;
  rules: Rule[];
}

export const PLATFORM_ADMIN = 'platform-admin';
export const ORG_ADMIN = 'org-admin';
export const PROJECT_ADMIN = 'project-admin';
export const MEMBER = 'member';
export const VIEWER = 'viewer';
/** Held implicitly by every signed-in user, at the platform level; it cannot be bound. */
export const AUTHENTICATED = 'authenticated';

/** The project where platform administrators create workflows and configure clusters. */
export const ADMIN_PROJECT = 'default/admin';

function rule(resource: ResourceType, actions: string[], scope: RuleScope, projects?: string[]): Rule {
  return projects ? { resource, actions, scope, projects } : { resource, actions, scope };
}

const WORKFLOW_EDITS = ['edit', 'edit-triggers', 'edit-settings'];

/** What the platform administrator may do: everything, everywhere, but for the cells the manual restricts. */
function platformAdminRules(): Rule[] {
  const special: ResourceType[] = ['workflow', 'repository-connection', 'cluster'];
  const rest = (Object.keys(RESOURCE_ACTIONS) as ResourceType[])
    .filter((type) => !special.includes(type))
    .map((type) => rule(type, [...RESOURCE_ACTIONS[type]], 'all'));
  return [
    rule('workflow', ['view', 'copy', 'run', 'activate', 'delete'], 'all'),
    rule('workflow', ['create'], 'all', [ADMIN_PROJECT]),
    rule('workflow', WORKFLOW_EDITS, 'own-objects'),
    rule('cluster', ['view', 'add', 'remove'], 'all', [ADMIN_PROJECT]),
    ...rest,
  ];
}

/** What every role inside an organization may see of it. */
const TENANCY_VIEW = [rule('organization', ['view'], 'joined-projects'), rule('project', ['view'], 'joined-projects'), rule('quota', ['view'], 'joined-projects')];

function projectAdminRules(): Rule[] {
  return [
    rule('workflow', ['view', 'create', 'copy', 'run', 'activate', 'delete'], 'joined-projects'),
    rule('workflow', WORKFLOW_EDITS, 'own-objects'),
    rule('cluster', ['view', 'add', 'remove'], 'joined-projects'),
    rule('image', ['pull', 'push', 'delete'], 'joined-projects'),
    rule('chart', ['pull', 'push', 'delete'], 'joined-projects'),
    rule('component', ['view', 'publish', 'deprecate'], 'joined-projects'),
    rule('log', ['view', 'push'], 'joined-projects'),
    rule('build', ['view', 'create', 'cancel'], 'joined-projects'),
    rule('workspace', ['view', 'create', 'update', 'delete'], 'joined-projects'),
    rule('project', ['manage-members'], 'joined-projects'),
    ...TENANCY_VIEW,
  ];
}

export const BUILT_IN_ROLES: readonly Role[] = [
  {
    name: PLATFORM_ADMIN,
    description: 'Administers the platform: every organization, user and role',
    level: 'platform',
    builtIn: true,
    rules: platformAdminRules(),
  },
  {
    name: ORG_ADMIN,
    description: 'Administers one organization: its projects, members and everything in them',
    level: 'org',
    builtIn: true,
    rules: [
      ...projectAdminRules(),
      rule('organization', ['manage-members'], 'joined-projects'),
      rule('project', ['create'], 'joined-projects'),
      rule('audit', ['view'], 'joined-projects'),
    ],
  },
  {
    name: PROJECT_ADMIN,
    description: 'Administers one project: its members, workflows, clusters and artifacts',
    level: 'project',
    builtIn: true,
    rules: projectAdminRules(),
  },
  {
    name: MEMBER,
    description: 'Works in a project: pushes and pulls artifacts, publishes components, builds; sees own workflows',
    level: 'project',
    builtIn: true,
    rules: [
      rule('workflow', ['view'], 'own-objects'),
      rule('image', ['pull', 'push'], 'joined-projects'),
      rule('chart', ['pull', 'push'], 'joined-projects'),
      rule('component', ['view', 'publish'], 'joined-projects'),
      rule('log', ['view'], 'own-objects'),
      rule('build', ['view', 'create', 'cancel'], 'joined-projects'),
      rule('workspace', ['view'], 'joined-projects'),
      ...TENANCY_VIEW,
    ],
  },
  {
    name: VIEWER,
    description: 'Reads a project: workflows, artifacts, components, logs, builds and workspaces',
    level: 'project',
    builtIn: true,
    rules: [
      rule('workflow', ['view'], 'joined-projects'),
      rule('image', ['pull'], 'joined-projects'),
      rule('chart', ['pull'], 'joined-projects'),
      rule('component', ['view'], 'joined-projects'),
      rule('log', ['view'], 'joined-projects'),
      rule('build', ['view'], 'joined-projects'),
      rule('workspace', ['view'], 'joined-projects'),
      ...TENANCY_VIEW,
    ],
  },
  {
    name: AUTHENTICATED,
    description: 'Every signed-in user, implicitly: their own repository connections and tokens; reads users and roles',
    level: 'platform',
    builtIn: true,
    rules: [
      rule('repository-connection', ['view', 'manage'], 'own-objects'),
      rule('token', ['view', 'manage'], 'own-objects'),
      rule('user', ['view'], 'all'),
      rule('role', ['view'], 'all'),
    ],
  },
];

export function builtInRole(name: string): Role | undefined {
  return BUILT_IN_ROLES.find((role) => role.name === name);
}

/** True when `rule` grants `action`. */
export function ruleGrants(rule: Rule, action: Action): boolean {
  const [type, verb] = action.split(':');
  return rule.resource === type && rule.actions.includes(verb);
}
