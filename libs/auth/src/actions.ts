/**
 * Every action the platform authorizes, as `<resource type>:<verb>`. Policies (crew's
 * roles) grant these; guards ask for them. A name outside this catalog is refused by
 * crew when a role is defined, so a typo cannot silently grant nothing.
 */
export const RESOURCE_ACTIONS = {
  // pilotage: workflows and their runs (a run is read with workflow:view, started and stopped with workflow:run)
  workflow: ['view', 'create', 'copy', 'run', 'edit', 'edit-triggers', 'edit-settings', 'activate', 'delete'],
  // code repository connections: per user
  'repository-connection': ['view', 'manage'],
  // Kubernetes cluster configuration
  cluster: ['view', 'add', 'remove'],
  // dockyard
  workspace: ['view', 'create', 'update', 'delete'],
  image: ['pull', 'push', 'delete'],
  chart: ['pull', 'push', 'delete'],
  // nucleus
  component: ['view', 'publish', 'deprecate'],
  // logarithm
  log: ['view', 'push'],
  // assembling
  build: ['view', 'create', 'cancel'],
  // crew itself
  organization: ['view', 'create', 'update', 'manage-members'],
  project: ['view', 'create', 'manage-members'],
  user: ['view', 'create'],
  role: ['view', 'manage'],
  token: ['view', 'manage'],
  audit: ['view'],
  quota: ['view', 'edit'],
} as const;

export type ResourceType = keyof typeof RESOURCE_ACTIONS;

export type Action = {
  [T in ResourceType]: `${T}:${(typeof RESOURCE_ACTIONS)[T][number]}`;
}[ResourceType];

export function isAction(value: string): value is Action {
  const [type, verb, extra] = value.split(':');
  if (extra !== undefined || !type || !verb) return false;
  const verbs = (RESOURCE_ACTIONS as Record<string, readonly string[]>)[type];
  return verbs !== undefined && verbs.includes(verb);
}

export function resourceTypeOf(action: Action): ResourceType {
  return action.split(':')[0] as ResourceType;
}
