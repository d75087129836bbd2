/** The image actions a registry token may carry. */
export const REGISTRY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RegistryAction = (typeof REGISTRY_ACTIONS)[number];

/** A repository scope asked for: `repository:<workspace>/<path>:<actions>`. */
export interface RepositoryRequest {
  name: string;
  workspace: string;
  actions: RegistryAction[];
}

/** One entry of a registry token's `access` claim. */
export interface RegistryAccess {
  type: 'repository';
  name: string;
  actions: RegistryAction[];
}

export const SCOPE_LIMITS = { scopes: 20, scopeLength: 512 } as const;

/** A repository path component, as the distribution spec defines it. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Reads the `scope` parameters of a token request (`repository:acme/web:pull,push`,
 * repeated or space-separated). Other resource types (`registry:catalog:*`) and
 * malformed scopes are left out: they are granted nothing, which is not an error.
 * `*` stands for every image action. Scopes naming the same repository are merged.
 */
export function parseScopes(raw: string[]): RepositoryRequest[] {
  const byName = new Map<string, RepositoryRequest>();
  const scopes = raw.flatMap((value) => value.split(' ')).filter(Boolean).slice(0, SCOPE_LIMITS.scopes);
  for (const scope of scopes) {
    if (scope.length > SCOPE_LIMITS.scopeLength) continue;
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    // A resource class (`repository(plugin)`) does not change what is granted.
    const type = scope.slice(0, first).replace(/\([a-z0-9]+\)$/, '');
    if (type !== 'repository') continue;
    const name = scope.slice(first + 1, last);
    const components = name.split('/');
    if (components.length < 2 || !components.every((component) => COMPONENT.test(component))) continue;
    const actions = scope
      .slice(last + 1)
      .split(',')
      .flatMap((action): RegistryAction[] => (action === '*' ? [...REGISTRY_ACTIONS] : isRegistryAction(action) ? [action] : []));
    const known = byName.get(name) ?? { name, workspace: components[0], actions: [] };
    known.actions = REGISTRY_ACTIONS.filter((action) => known.actions.includes(action) || actions.includes(action));
    byName.set(name, known);
  }
  return [...byName.values()];
}

function isRegistryAction(value: string): value is RegistryAction {
  return (REGISTRY_ACTIONS as readonly string[]).includes(value);
}
