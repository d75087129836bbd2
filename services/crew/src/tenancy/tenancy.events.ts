import type { Rule, RoleLevel } from '../policy/roles';

/**
 * Tenancy events. An organization's stream (`organization-<name>`) holds the
 * organization, its projects and its memberships: appending with the expected version
 * keeps names unique (the stream name claims the organization name) and memberships
 * consistent. Platform bindings live in `platform-bindings`, custom roles in `role-<name>`.
 */
export interface OrganizationCreated {
  name: string;
  description: string;
}

export interface ProjectCreated {
  org: string;
  name: string;
  description: string;
}

/** A user's role in the organization (`project` absent) or one of its projects. */
export interface MemberAdded {
  org: string;
  project?: string;
  userId: string;
  username: string;
  role: string;
}

export interface MemberRoleChanged {
  org: string;
  project?: string;
  userId: string;
  username: string;
  role: string;
  previousRole: string;
}

export interface MemberRemoved {
  org: string;
  project?: string;
  userId: string;
  username: string;
  role: string;
}

export interface PlatformRoleGranted {
  userId: string;
  username: string;
  role: string;
}

export interface PlatformRoleRevoked {
  userId: string;
  username: string;
  role: string;
}

export interface RoleDefined {
  name: string;
  description: string;
  level: Exclude<RoleLevel, 'platform'>;
  rules: Rule[];
}

export interface RoleDeleted {
  name: string;
}

export interface TenancyEventMap {
  OrganizationCreated: OrganizationCreated;
  ProjectCreated: ProjectCreated;
  MemberAdded: MemberAdded;
  MemberRoleChanged: MemberRoleChanged;
  MemberRemoved: MemberRemoved;
  PlatformRoleGranted: PlatformRoleGranted;
  PlatformRoleRevoked: PlatformRoleRevoked;
  RoleDefined: RoleDefined;
  RoleDeleted: RoleDeleted;
}

export type TenancyEvent = { [K in keyof TenancyEventMap]: { type: K; data: TenancyEventMap[K] } }[keyof TenancyEventMap];

export const PLATFORM_BINDINGS_STREAM = 'platform-bindings';

export function organizationStreamId(org: string): string {
  return `organization-${org}`;
}

export function roleStreamId(name: string): string {
  return `role-${name}`;
}

/** Organization, project and role names. */
export const SLUG = /^(?=.{2,63}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** An organization as its stream folds. */
export interface OrganizationState {
  name: string;
  projects: Set<string>;
  /** `project` ('' for the organization) → userId → role. */
  members: Map<string, Map<string, string>>;
}

export function evolveOrganization(state: OrganizationState | undefined, event: TenancyEvent): OrganizationState | undefined {
  if (event.type === 'OrganizationCreated') return { name: event.data.name, projects: new Set(), members: new Map() };
  if (!state) return state;
  switch (event.type) {
    case 'ProjectCreated':
      state.projects.add(event.data.name);
      break;
    case 'MemberAdded':
    case 'MemberRoleChanged': {
      const key = event.data.project ?? '';
      const members = state.members.get(key) ?? new Map<string, string>();
      members.set(event.data.userId, event.data.role);
      state.members.set(key, members);
      break;
    }
    case 'MemberRemoved':
      state.members.get(event.data.project ?? '')?.delete(event.data.userId);
      break;
  }
  return state;
}
