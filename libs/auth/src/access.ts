import type { Action } from './actions';

/** Who is calling: a user (with a personal API token or an access token), or nobody. */
export type Principal =
  | {
      kind: 'user';
      userId: string;
      username: string;
      /** Set when the caller used a personal API token; its scopes narrow the user's rights. */
      tokenId?: string;
    }
  | { kind: 'anonymous' };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** What an action applies to. Organizations and projects are named by their slugs. */
export interface ResourceRef {
  org: string;
  /** The project inside `org`; absent for organization-level resources. */
  project?: string;
  id?: string;
  /** User id of the creator, for rules scoped to own objects. */
  owner?: string;
}

export interface Decision {
  allowed: boolean;
  /**
   * False when the caller must not learn that the resource exists (another
   * organization's, or an organization or project that does not exist): the caller
   * answers 404, not 403.
   */
  visible: boolean;
  reason: string;
}

/** Where an action is allowed, to filter lists: `projects` are `org/project`. */
export interface ListScope {
  everywhere: boolean;
  orgs: string[];
  projects: string[];
  /** For rules scoped to own objects: where objects the caller created are allowed. */
  ownEverywhere: boolean;
  ownOrgs: string[];
  ownProjects: string[];
}

export const NOWHERE: ListScope = { everywhere: false, orgs: [], projects: [], ownEverywhere: false, ownOrgs: [], ownProjects: [] };

/** Credentials as they arrived, before they are checked. */
export type Credentials =
  | { scheme: 'bearer'; token: string }
  | { scheme: 'basic'; username: string; password: string };

/** Quota limits; `undefined` is no limit. */
export interface QuotaLimits {
  maxWorkflows?: number;
  maxConcurrentRuns?: number;
  maxRegistryBytes?: number;
}

/**
 * The decisions crew makes. Services reach crew over gRPC (with a short cache);
 * crew answers from its own model in-process. Both honour one contract.
 */
export interface AccessControl {
  /** The principal the credentials prove; throws UnauthenticatedError (401) when they prove nothing. */
  authenticate(credentials: Credentials): Promise<Principal>;
  authorize(principal: Principal, action: Action, resource: ResourceRef): Promise<Decision>;
  listScope(principal: Principal, action: Action): Promise<ListScope>;
  quota(org: string, project?: string): Promise<{ org: QuotaLimits; project: QuotaLimits }>;
}

/** Nest injection token of the service's AccessControl. */
export const ACCESS_CONTROL = Symbol('ACCESS_CONTROL');
