import type { Action } from '@co/auth';

/**
 * Personal API tokens as the rest of crew sees them (implemented in tokens/). A token
 * narrows its user's rights: only `actions` (all when absent), only in `projects`
 * (`org/project`; everywhere the user has rights when absent).
 */
export interface ApiTokenScope {
  actions?: Action[];
  projects?: string[];
}

export interface ApiTokenIntrospection {
  active: boolean;
  userId?: string;
  username?: string;
  tokenId?: string;
  /** Why it is not active: unknown, expired, revoked, or another user's. */
  reason?: string;
}

export interface ApiTokenVerifier {
  /** Looks the token up by its hash; `username` (Basic auth) must be its owner's. */
  introspect(token: string, username?: string): Promise<ApiTokenIntrospection>;
  /** The scope of an active token; undefined when it is no longer active. */
  scopeOf(tokenId: string): Promise<ApiTokenScope | undefined>;
}

export const API_TOKEN_VERIFIER = Symbol('API_TOKEN_VERIFIER');

/** Every personal API token starts with this, so that it is told from a JWT at a glance (and by secret scanners). */
export const API_TOKEN_PREFIX = 'cop_';
