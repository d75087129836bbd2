import { Injectable } from '@nestjs/common';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, Database, EventStore, ProjectionRunner, type RecordedEvent } from '@co/eventstore';
import { isAction, RESOURCE_ACTIONS, type ResourceType } from '@co/auth';
import type { Binding, RoleLookup } from '../policy/policy';
import { AUTHENTICATED, BUILT_IN_ROLES, builtInRole, PLATFORM_ADMIN, RULE_SCOPES, type Role, type Rule, type RoleLevel } from '../policy/roles';
import { UsersService } from '../users/users.service';
import {
  evolveOrganization,
  organizationStreamId,
  PLATFORM_BINDINGS_STREAM,
  roleStreamId,
  SLUG,
  type OrganizationState,
  type RoleDefined,
  type TenancyEvent,
} from './tenancy.events';

export interface OrganizationView {
  name: string;
  description: string;
  createdAt: string;
}

export interface ProjectView {
  org: string;
  name: string;
  /** `org/project`, as policies and other services name it. */
  path: string;
  description: string;
  createdAt: string;
}

export interface MemberView {
  username: string;
  userId: string;
  role: string;
  /** Absent for platform bindings. */
  org?: string;
  project?: string;
  since: string;
}

export interface RoleInput {
  name: string;
  description?: string;
  level: string;
  rules: { resource: string; actions: string[]; scope: string; projects?: string[] }[];
}

interface BindingRow {
  user_id: string;
  username: string;
  org: string;
  project: string;
  role: string;
  created_at: Date | string;
}

const SLUG_RULE = 'a lowercase slug of 2 to 63 characters: a letter, then letters, digits and single dashes (e.g. acme or web-shop)';

export function checkSlug(code: string, what: string, value: string): void {
  if (typeof value !== 'string' || !SLUG.test(value)) throw new InvalidInputError(code, `The ${what} ${JSON.stringify(value)} is not valid: use ${SLUG_RULE}.`);
}

export function organizationNotFound(org: string): NotFoundError {
  return new NotFoundError('ORG.NOT_FOUND', `No organization named ${org} (or you are not a member of it).`);
}

export function projectNotFound(org: string, project: string): NotFoundError {
  return new NotFoundError('PROJECT.NOT_FOUND', `No project named ${org}/${project} (or you are not a member of it).`);
}

const iso = (value: Date | string) => new Date(value).toISOString();

/**
 * Organizations, projects, memberships, platform bindings and custom roles: commands
 * append events (with expected versions), reads use the projected tables.
 */
/**
 * Names no organization may take: dockyard keeps the platform's official component images
 * in the workspace `official`, owned by an organization of that name which only platform
 * administrators reach. An organization created under it would let its admins push there.
 */
export const RESERVED_ORGANIZATIONS: ReadonlySet<string> = new Set(['official']);

@Injectable()
export class TenancyService {
  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projections: ProjectionRunner,
    private readonly users: UsersService,
  ) {}

  // ---- organizations and projects ----

  async createOrganization(input: { name: string; description?: string }, actor?: string): Promise<OrganizationView> {
    checkSlug('ORG.INVALID_NAME', 'organization name', input.name);
    if (RESERVED_ORGANIZATIONS.has(input.name)) {
      throw new ConflictError('ORG.NAME_RESERVED', `The organization name ${input.name} is reserved by the platform (official components live there); choose another name.`);
    }
    try {
      const recorded = await this.store.append(organizationStreamId(input.name), 'no-stream', [
        { type: 'OrganizationCreated', data: { name: input.name, description: input.description ?? '' } },
      ], { actor });
      await this.settle(recorded);
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) throw new ConflictError('ORG.ALREADY_EXISTS', `The organization ${input.name} exists already; choose another name.`);
      throw error;
    }
    return (await this.organization(input.name))!;
  }

  async organization(name: string): Promise<OrganizationView | undefined> {
    if (!SLUG.test(name)) return undefined;
    const [row] = await this.db.query<{ name: string; description: string; created_at: Date }[]>(
      'SELECT name, description, created_at FROM crew_organizations WHERE name = ?',
      [name],
    );
    return row && { name: row.name, description: row.description, createdAt: iso(row.created_at) };
  }

  /** Organizations named in `names`, or all of them. */
  async organizations(names: string[] | 'all'): Promise<OrganizationView[]> {
    if (names !== 'all' && names.length === 0) return [];
    const where = names === 'all' ? '' : `WHERE name IN (${names.map(() => '?').join(', ')})`;
    const rows = await this.db.query<{ name: string; description: string; created_at: Date }[]>(
      `SELECT name, description, created_at FROM crew_organizations ${where} ORDER BY name`,
      names === 'all' ? [] : names,
    );
    return rows.map((row) => ({ name: row.name, description: row.description, createdAt: iso(row.created_at) }));
  }

  async createProject(org: string, input: { name: string; description?: string }, actor?: string): Promise<ProjectView> {
    checkSlug('PROJECT.INVALID_NAME', 'project name', input.name);
    await this.changeOrganization(org, actor, (state) => {
      if (state.projects.has(input.name)) {
        throw new ConflictError('PROJECT.ALREADY_EXISTS', `The project ${org}/${input.name} exists already; choose another name.`);
      }
      return [{ type: 'ProjectCreated', data: { org, name: input.name, description: input.description ?? '' } }];
    });
    return (await this.project(org, input.name))!;
  }

  async project(org: string, name: string): Promise<ProjectView | undefined> {
    if (!SLUG.test(org) || !SLUG.test(name)) return undefined;
    const [row] = await this.db.query<{ org: string; name: string; description: string; created_at: Date }[]>(
      'SELECT org, name, description, created_at FROM crew_projects WHERE org = ? AND name = ?',
      [org, name],
    );
    return row && toProject(row);
  }

  async projects(org: string): Promise<ProjectView[]> {
    const rows = await this.db.query<{ org: string; name: string; description: string; created_at: Date }[]>(
      'SELECT org, name, description, created_at FROM crew_projects WHERE org = ? ORDER BY name',
      [org],
    );
    return rows.map(toProject);
  }

  async exists(org: string, project?: string): Promise<{ org: boolean; project: boolean }> {
    if (!org || !SLUG.test(org)) return { org: false, project: false };
    if (!project) return { org: !!(await this.organization(org)), project: false };
    if (!SLUG.test(project)) return { org: !!(await this.organization(org)), project: false };
    const [row] = await this.db.query<{ orgs: number | string; projects: number | string }[]>(
      'SELECT (SELECT COUNT(*) FROM crew_organizations WHERE name = ?) AS orgs, (SELECT COUNT(*) FROM crew_projects WHERE org = ? AND name = ?) AS projects',
      [org, org, project],
    );
    return { org: Number(row.orgs) > 0, project: Number(row.projects) > 0 };
  }

  // ---- memberships ----

  /**
   * Gives `username` `role` in the organization (`project` undefined) or one project.
   * `replace` false refuses a user who already has a role there (409).
   */
  async setMember(org: string, project: string | undefined, username: string, role: string, options: { replace: boolean; actor?: string }): Promise<MemberView> {
    await this.checkBindableRole(role, project ? 'project' : 'org');
    const user = await this.users.get(username);
    await this.changeOrganization(org, options.actor, (state) => {
      if (project && !state.projects.has(project)) throw projectNotFound(org, project);
      const current = state.members.get(project ?? '')?.get(user.id);
      const data = { org, ...(project ? { project } : {}), userId: user.id, username: user.username, role };
      if (current === undefined) return [{ type: 'MemberAdded', data }];
      if (!options.replace) {
        throw new ConflictError('MEMBER.ALREADY_EXISTS', `${username} is already ${current} of ${place(org, project)}; change the role with PUT.`);
      }
      if (current === role) return [];
      return [{ type: 'MemberRoleChanged', data: { ...data, previousRole: current } }];
    });
    const member = (await this.members(org, project)).find((candidate) => candidate.userId === user.id);
    return member!;
  }

  async removeMember(org: string, project: string | undefined, username: string, actor?: string): Promise<void> {
    const user = await this.users.find(username);
    await this.changeOrganization(org, actor, (state) => {
      if (project && !state.projects.has(project)) throw projectNotFound(org, project);
      const current = user && state.members.get(project ?? '')?.get(user.id);
      if (!user || current === undefined) throw new NotFoundError('MEMBER.NOT_FOUND', `${username} holds no role in ${place(org, project)}.`);
      return [{ type: 'MemberRemoved', data: { org, ...(project ? { project } : {}), userId: user.id, username: user.username, role: current } }];
    });
  }

  /** Bindings of the organization itself (`project` undefined) or of one project. */
  async members(org: string, project?: string): Promise<MemberView[]> {
    const rows = await this.db.query<BindingRow[]>(
      'SELECT user_id, username, org, project, role, created_at FROM crew_bindings WHERE org = ? AND project = ? ORDER BY username',
      [org, project ?? ''],
    );
    return rows.map(toMember);
  }

  // ---- platform bindings ----

  async platformAdmins(): Promise<MemberView[]> {
    const rows = await this.db.query<BindingRow[]>(
      "SELECT user_id, username, org, project, role, created_at FROM crew_bindings WHERE org = '' AND role = ? ORDER BY username",
      [PLATFORM_ADMIN],
    );
    return rows.map(toMember);
  }

  /** Idempotent: granting it again changes nothing. */
  async grantPlatformAdmin(username: string, actor?: string): Promise<MemberView> {
    const user = await this.users.get(username);
    await this.grantPlatformAdminTo(user.id, user.username, actor);
    return (await this.platformAdmins()).find((admin) => admin.userId === user.id)!;
  }

  async grantPlatformAdminTo(userId: string, username: string, actor?: string): Promise<void> {
    await this.changePlatform(actor, (admins) => (admins.has(userId) ? [] : [{ type: 'PlatformRoleGranted', data: { userId, username, role: PLATFORM_ADMIN } }]));
  }

  async revokePlatformAdmin(username: string, actor?: string): Promise<void> {
    const user = await this.users.find(username);
    await this.changePlatform(actor, (admins) => {
      if (!user || !admins.has(user.id)) throw new NotFoundError('MEMBER.NOT_FOUND', `${username} is not a platform administrator.`);
      if (admins.size === 1) {
        throw new ConflictError('PLATFORM.LAST_ADMIN', `${username} is the last platform administrator; make someone else one first.`);
      }
      return [{ type: 'PlatformRoleRevoked', data: { userId: user.id, username: user.username, role: PLATFORM_ADMIN } }];
    });
  }

  // ---- bindings and roles, for decisions ----

  async bindingsOf(userId: string): Promise<Binding[]> {
    const rows = await this.db.query<{ org: string; project: string; role: string }[]>('SELECT org, project, role FROM crew_bindings WHERE user_id = ?', [userId]);
    return rows.map((row) => ({ role: row.role, ...(row.org ? { org: row.org } : {}), ...(row.project ? { project: row.project } : {}) }));
  }

  /** Every role a decision may meet: built-in ones and the custom ones defined now. */
  async roleLookup(): Promise<RoleLookup> {
    const custom = new Map((await this.customRoles()).map((role) => [role.name, role]));
    return (name) => builtInRole(name) ?? custom.get(name);
  }

  async roles(): Promise<Role[]> {
    return [...BUILT_IN_ROLES, ...(await this.customRoles())];
  }

  async role(name: string): Promise<Role> {
    const role = builtInRole(name) ?? (await this.customRoles(name))[0];
    if (!role) throw new NotFoundError('ROLE.NOT_FOUND', `No role named ${name}; GET /api/v1/roles lists them.`);
    return role;
  }

  async defineRole(input: RoleInput, actor?: string): Promise<Role> {
    const definition = validateRole(input);
    if (builtInRole(definition.name)) {
      throw new ConflictError('ROLE.BUILT_IN', `${definition.name} is a built-in role and cannot be redefined; choose another name.`);
    }
    const streamId = roleStreamId(definition.name);
    const events = await this.store.readStream(streamId);
    if (events[events.length - 1]?.type === 'RoleDefined') {
      throw new ConflictError('ROLE.ALREADY_EXISTS', `The role ${definition.name} exists already; delete it first or choose another name.`);
    }
    try {
      await this.settle(await this.store.append(streamId, events.length || 'no-stream', [{ type: 'RoleDefined', data: definition }], { actor }));
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) throw new ConflictError('ROLE.ALREADY_EXISTS', `The role ${definition.name} was just defined by someone else.`);
      throw error;
    }
    return this.role(definition.name);
  }

  async deleteRole(name: string, actor?: string): Promise<void> {
    if (builtInRole(name)) throw new ConflictError('ROLE.BUILT_IN', `${name} is a built-in role and cannot be deleted.`);
    const streamId = roleStreamId(name);
    const events = SLUG.test(name) ? await this.store.readStream(streamId) : [];
    if (events[events.length - 1]?.type !== 'RoleDefined') throw new NotFoundError('ROLE.NOT_FOUND', `No custom role named ${name}.`);
    const [row] = await this.db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM crew_bindings WHERE role = ?', [name]);
    if (Number(row.n) > 0) {
      throw new ConflictError('ROLE.IN_USE', `The role ${name} is still held by ${Number(row.n)} member(s); remove those memberships or change their role first.`);
    }
    await this.settle(await this.store.append(streamId, events.length, [{ type: 'RoleDeleted', data: { name } }], { actor }));
  }

  private async customRoles(name?: string): Promise<Role[]> {
    const rows = await this.db.query<{ name: string; description: string; level: RoleLevel; rules: string }[]>(
      `SELECT name, description, level, rules FROM crew_roles ${name ? 'WHERE name = ?' : ''} ORDER BY name`,
      name ? [name] : [],
    );
    return rows.map((row) => ({ name: row.name, description: row.description, level: row.level, builtIn: false, rules: JSON.parse(row.rules) as Rule[] }));
  }

  private async checkBindableRole(name: string, at: 'org' | 'project'): Promise<void> {
    if (name === AUTHENTICATED) throw new InvalidInputError('MEMBER.INVALID_ROLE', `${AUTHENTICATED} is held by every signed-in user; it cannot be granted.`);
    if (name === PLATFORM_ADMIN) {
      throw new InvalidInputError('MEMBER.INVALID_ROLE', `${PLATFORM_ADMIN} is a platform role: grant it with PUT /api/v1/platform/admins/{username}.`);
    }
    const role = typeof name === 'string' && SLUG.test(name) ? (builtInRole(name) ?? (await this.customRoles(name))[0]) : undefined;
    if (!role) throw new InvalidInputError('MEMBER.INVALID_ROLE', `No role named ${JSON.stringify(name)}; GET /api/v1/roles lists them.`);
    if (at === 'project' && role.level !== 'project') {
      throw new InvalidInputError(
        'MEMBER.INVALID_ROLE',
        `${name} is an organization role; in a project grant a project role (project-admin, member, viewer or a custom project role).`,
      );
    }
  }

  // ---- event plumbing ----

  private async changeOrganization(org: string, actor: string | undefined, decide: (state: OrganizationState) => TenancyEvent[]): Promise<void> {
    const streamId = organizationStreamId(org);
    for (let attempt = 0; attempt < 5; attempt++) {
      const history = SLUG.test(org) ? await this.store.readStream(streamId) : [];
      let state: OrganizationState | undefined;
      for (const event of history) state = evolveOrganization(state, event as unknown as TenancyEvent);
      if (!state) throw organizationNotFound(org);
      const events = decide(state);
      if (!events.length) return;
      try {
        await this.settle(await this.store.append<object>(streamId, history.length, events, { actor }));
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
    throw new ConflictError('ORG.BUSY', `The organization ${org} is being changed by others right now; retry.`);
  }

  private async changePlatform(actor: string | undefined, decide: (admins: Map<string, string>) => TenancyEvent[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const history = await this.store.readStream(PLATFORM_BINDINGS_STREAM);
      const admins = new Map<string, string>();
      for (const recorded of history) {
        const event = recorded as unknown as TenancyEvent;
        if (event.type === 'PlatformRoleGranted') admins.set(event.data.userId, event.data.role);
        if (event.type === 'PlatformRoleRevoked') admins.delete(event.data.userId);
      }
      const events = decide(admins);
      if (!events.length) return;
      try {
        await this.settle(await this.store.append<object>(PLATFORM_BINDINGS_STREAM, history.length || 'no-stream', events, { actor }));
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
    throw new ConflictError('PLATFORM.BUSY', 'Platform roles are being changed by others right now; retry.');
  }

  private async settle(recorded: RecordedEvent<object>[]): Promise<void> {
    await this.projections.settle(recorded[recorded.length - 1].position);
  }
}

function place(org: string, project?: string): string {
  return project ? `${org}/${project}` : org;
}

function toProject(row: { org: string; name: string; description: string; created_at: Date | string }): ProjectView {
  return { org: row.org, name: row.name, path: `${row.org}/${row.name}`, description: row.description, createdAt: iso(row.created_at) };
}

function toMember(row: BindingRow): MemberView {
  return {
    username: row.username,
    userId: row.user_id,
    role: row.role,
    ...(row.org ? { org: row.org } : {}),
    ...(row.project ? { project: row.project } : {}),
    since: iso(row.created_at),
  };
}

/** Checks a custom role against the action catalog; the first problem is reported. */
export function validateRole(input: RoleInput): RoleDefined {
  checkSlug('ROLE.INVALID_NAME', 'role name', input.name);
  if (input.level !== 'org' && input.level !== 'project') {
    throw new InvalidInputError(
      'ROLE.INVALID_LEVEL',
      `level must be "org" (granted in an organization) or "project" (granted in a project, or in an organization for all its projects), not ${JSON.stringify(input.level)}.`,
    );
  }
  if (!Array.isArray(input.rules) || input.rules.length === 0) throw new InvalidInputError('ROLE.INVALID_RULE', 'A role needs at least one rule.');
  const rules = input.rules.map((rule, index): Rule => {
    const at = `rules[${index}]`;
    if (!(rule.resource in RESOURCE_ACTIONS)) {
      throw new InvalidInputError('ROLE.INVALID_RULE', `${at}.resource ${JSON.stringify(rule.resource)} is unknown; use one of ${Object.keys(RESOURCE_ACTIONS).join(', ')}.`);
    }
    const verbs = RESOURCE_ACTIONS[rule.resource as ResourceType] as readonly string[];
    if (!Array.isArray(rule.actions) || rule.actions.length === 0) throw new InvalidInputError('ROLE.INVALID_RULE', `${at}.actions must list at least one action.`);
    for (const verb of rule.actions) {
      if (!isAction(`${rule.resource}:${verb}`)) {
        throw new InvalidInputError('ROLE.INVALID_RULE', `${at}: ${rule.resource}:${verb} is not an action; ${rule.resource} has ${verbs.join(', ')}.`);
      }
    }
    if (!RULE_SCOPES.includes(rule.scope as Rule['scope'])) {
      throw new InvalidInputError('ROLE.INVALID_RULE', `${at}.scope must be one of ${RULE_SCOPES.join(', ')}, not ${JSON.stringify(rule.scope)}.`);
    }
    for (const project of rule.projects ?? []) {
      const [org, name, extra] = String(project).split('/');
      if (extra !== undefined || !SLUG.test(org ?? '') || !SLUG.test(name ?? '')) {
        throw new InvalidInputError('ROLE.INVALID_RULE', `${at}.projects: ${JSON.stringify(project)} must be org/project, e.g. acme/web.`);
      }
    }
    return {
      resource: rule.resource as ResourceType,
      actions: [...new Set(rule.actions)],
      scope: rule.scope as Rule['scope'],
      ...(rule.projects ? { projects: [...new Set(rule.projects)] } : {}),
    };
  });
  return { name: input.name, description: input.description ?? '', level: input.level, rules };
}
