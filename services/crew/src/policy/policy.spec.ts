import type { Action, ResourceRef } from '@co/auth';
import { authorize, type Binding, listScope, type RoleLookup, type Subject } from './policy';
import { builtInRole, type Role } from './roles';
import { narrowDecision, narrowScope } from './token-scope';

const builder: Role = {
  name: 'builder',
  description: 'runs builds in web only',
  level: 'project',
  builtIn: false,
  rules: [{ resource: 'build', actions: ['view', 'create'], scope: 'joined-projects', projects: ['acme/web'] }],
};
const roles: RoleLookup = (name) => builtInRole(name) ?? (name === 'builder' ? builder : undefined);
const EXISTS = { org: true, project: true };
const ME = 'user-1';

function subject(...bindings: Binding[]): Subject {
  return { userId: ME, bindings };
}

function decide(who: Subject, action: Action, resource: ResourceRef, existence = EXISTS) {
  return authorize(who, roles, action, resource, existence);
}

const platformAdmin = subject({ role: 'platform-admin' });
const orgAdmin = subject({ role: 'org-admin', org: 'acme' });
const projectAdmin = subject({ role: 'project-admin', org: 'acme', project: 'web' });
const member = subject({ role: 'member', org: 'acme', project: 'web' });
const viewer = subject({ role: 'viewer', org: 'acme', project: 'web' });
const web = { org: 'acme', project: 'web' };
const api = { org: 'acme', project: 'api' };

describe('policy: authorize', () => {
  it('denies by default, with a reason naming the binding', () => {
    const decision = decide(member, 'workflow:create', web);
    expect(decision).toEqual({ allowed: false, visible: true, reason: 'member of acme/web may not workflow:create' });
    expect(decide(subject(), 'user:create', { org: '' })).toMatchObject({ allowed: false, visible: true });
  });

  it('hides other organizations, and organizations or projects that do not exist (visible=false)', () => {
    expect(decide(member, 'workflow:view', { org: 'globex', project: 'web' })).toMatchObject({ allowed: false, visible: false });
    expect(decide(orgAdmin, 'workflow:view', web, { org: false, project: false })).toMatchObject({ visible: false });
    expect(decide(platformAdmin, 'workflow:view', web, { org: true, project: false })).toMatchObject({ allowed: false, visible: false });
    // Another project of an organization the user belongs to is visible, but not allowed.
    expect(decide(member, 'image:pull', api)).toEqual({ allowed: false, visible: true, reason: 'member of acme/web does not reach acme/api' });
    // A platform administrator sees every organization.
    expect(decide(platformAdmin, 'workflow:view', { org: 'globex', project: 'x' })).toMatchObject({ allowed: true, visible: true });
  });

  it('grants workflow cells as the manual tables them', () => {
    const owned = { ...web, owner: ME };
    const others = { ...web, owner: 'user-2' };
    expect(decide(platformAdmin, 'workflow:create', { org: 'default', project: 'admin' }).allowed).toBe(true);
    expect(decide(platformAdmin, 'workflow:create', web)).toMatchObject({ allowed: false, reason: 'platform-admin may workflow:create only in default/admin' });
    expect(decide(platformAdmin, 'workflow:run', web).allowed).toBe(true);
    expect(decide(platformAdmin, 'workflow:edit', others)).toMatchObject({ allowed: false, reason: 'platform-admin may workflow:edit only on objects they created' });
    expect(decide(platformAdmin, 'workflow:edit-settings', owned).allowed).toBe(true);
    for (const admin of [orgAdmin, projectAdmin]) {
      for (const action of ['workflow:view', 'workflow:create', 'workflow:copy', 'workflow:run', 'workflow:activate', 'workflow:delete'] as Action[]) {
        expect(decide(admin, action, web).allowed).toBe(true);
      }
      expect(decide(admin, 'workflow:edit-triggers', others).allowed).toBe(false);
      expect(decide(admin, 'workflow:edit-triggers', owned).allowed).toBe(true);
    }
    expect(decide(projectAdmin, 'workflow:create', api).allowed).toBe(false);
    expect(decide(orgAdmin, 'workflow:create', api).allowed).toBe(true);
    expect(decide(member, 'workflow:view', owned).allowed).toBe(true);
    expect(decide(member, 'workflow:view', others).allowed).toBe(false);
    expect(decide(member, 'workflow:run', owned).allowed).toBe(false);
    expect(decide(member, 'workflow:edit', owned).allowed).toBe(false);
    expect(decide(viewer, 'workflow:view', others).allowed).toBe(true);
  });

  it('restricts clusters of platform administrators to default/admin; admins manage their projects’', () => {
    expect(decide(platformAdmin, 'cluster:add', { org: 'default', project: 'admin' }).allowed).toBe(true);
    expect(decide(platformAdmin, 'cluster:add', web).allowed).toBe(false);
    expect(decide(orgAdmin, 'cluster:remove', api).allowed).toBe(true);
    expect(decide(projectAdmin, 'cluster:view', web).allowed).toBe(true);
    expect(decide(member, 'cluster:view', web).allowed).toBe(false);
  });

  it('gives every user their own repository connections and tokens, users and roles to read', () => {
    const nobody = subject();
    expect(decide(nobody, 'repository-connection:manage', { org: '', owner: ME }).allowed).toBe(true);
    expect(decide(nobody, 'repository-connection:manage', { org: '', owner: 'user-2' }).allowed).toBe(false);
    expect(decide(platformAdmin, 'repository-connection:view', { org: '', owner: 'user-2' }).allowed).toBe(false);
    expect(decide(nobody, 'token:view', { org: '', owner: ME }).allowed).toBe(true);
    expect(decide(nobody, 'user:view', { org: '' }).allowed).toBe(true);
    expect(decide(nobody, 'role:view', { org: '' }).allowed).toBe(true);
    expect(decide(nobody, 'role:manage', { org: '' }).allowed).toBe(false);
    expect(decide(platformAdmin, 'role:manage', { org: '' }).allowed).toBe(true);
  });

  it('lets a project binding see its organization, and nothing else of it', () => {
    expect(decide(member, 'organization:view', { org: 'acme' }).allowed).toBe(true);
    expect(decide(member, 'project:view', web).allowed).toBe(true);
    expect(decide(member, 'project:view', api).allowed).toBe(false);
    expect(decide(projectAdmin, 'organization:manage-members', { org: 'acme' }).allowed).toBe(false);
    expect(decide(projectAdmin, 'project:manage-members', web).allowed).toBe(true);
    expect(decide(projectAdmin, 'project:manage-members', api).allowed).toBe(false);
    expect(decide(projectAdmin, 'quota:view', { org: 'acme' }).allowed).toBe(false);
    expect(decide(orgAdmin, 'audit:view', { org: 'acme' }).allowed).toBe(true);
    expect(decide(orgAdmin, 'organization:update', { org: 'acme' }).allowed).toBe(false);
  });

  it('reads a project role bound at the organization as the role in every project', () => {
    const everywhereMember = subject({ role: 'member', org: 'acme' });
    expect(decide(everywhereMember, 'image:push', api).allowed).toBe(true);
    expect(decide(everywhereMember, 'image:push', { org: 'globex', project: 'web' }).visible).toBe(false);
  });

  it('applies custom roles and their project restriction; an unknown role grants nothing', () => {
    const custom = subject({ role: 'builder', org: 'acme' });
    expect(decide(custom, 'build:create', web).allowed).toBe(true);
    expect(decide(custom, 'build:create', api)).toMatchObject({ allowed: false, reason: 'builder of acme may build:create only in acme/web' });
    expect(decide(subject({ role: 'gone', org: 'acme' }), 'build:view', web)).toMatchObject({ allowed: false, visible: true });
  });

  it('joined-projects on a platform binding reaches only where the user also has a binding', () => {
    const platformViewer: Role = { ...builder, name: 'auditor', level: 'platform', rules: [{ resource: 'log', actions: ['view'], scope: 'joined-projects' }] };
    const lookup: RoleLookup = (name) => (name === 'auditor' ? platformViewer : builtInRole(name));
    const who = subject({ role: 'auditor' }, { role: 'viewer', org: 'acme', project: 'web' });
    expect(authorize(who, lookup, 'log:view', { org: 'globex', project: 'x' }, EXISTS)).toMatchObject({ allowed: false, visible: true });
    expect(authorize(who, lookup, 'log:view', web, EXISTS).allowed).toBe(true);
    expect(listScope(who, lookup, 'log:view')).toMatchObject({ everywhere: false, orgs: [], projects: ['acme/web'] });
  });
});

describe('policy: listScope', () => {
  it('is everywhere for a platform administrator, restricted lists where a rule names projects', () => {
    expect(listScope(platformAdmin, roles, 'workflow:view').everywhere).toBe(true);
    expect(listScope(platformAdmin, roles, 'workflow:create')).toMatchObject({ everywhere: false, projects: ['default/admin'] });
    expect(listScope(platformAdmin, roles, 'workflow:edit')).toMatchObject({ everywhere: false, ownEverywhere: true });
  });

  it('covers bound organizations and projects, and own objects where the rule says so', () => {
    const both = subject({ role: 'org-admin', org: 'acme' }, { role: 'member', org: 'globex', project: 'shop' });
    expect(listScope(both, roles, 'workflow:view')).toEqual({
      everywhere: false,
      orgs: ['acme'],
      projects: [],
      ownEverywhere: false,
      ownOrgs: [],
      ownProjects: ['globex/shop'],
    });
    expect(listScope(both, roles, 'organization:view')).toMatchObject({ orgs: ['acme'], projects: ['globex/shop'] });
    expect(listScope(subject(), roles, 'workflow:view')).toEqual({ everywhere: false, orgs: [], projects: [], ownEverywhere: false, ownOrgs: [], ownProjects: [] });
    expect(listScope(subject(), roles, 'token:view').ownEverywhere).toBe(true);
  });
});

describe('policy: API token scopes', () => {
  const allowed = { allowed: true, visible: true, reason: 'ok' };

  it('narrows to the token actions and projects; an inactive token allows nothing', () => {
    expect(narrowDecision(allowed, {}, 'image:pull', web)).toEqual(allowed);
    expect(narrowDecision(allowed, { actions: ['image:pull'] }, 'image:push', web)).toMatchObject({ allowed: false, reason: 'the API token does not grant image:push' });
    expect(narrowDecision(allowed, { projects: ['acme/web'] }, 'image:pull', web).allowed).toBe(true);
    expect(narrowDecision(allowed, { projects: ['acme/web'] }, 'image:pull', api).allowed).toBe(false);
    expect(narrowDecision(allowed, { projects: ['acme/web'] }, 'organization:view', { org: 'acme' }).allowed).toBe(false);
    expect(narrowDecision(allowed, undefined, 'image:pull', web)).toMatchObject({ allowed: false, reason: 'the API token is no longer active' });
  });

  it('narrows list scopes the same way', () => {
    const scope = listScope(orgAdmin, roles, 'image:pull');
    expect(narrowScope(scope, { projects: ['acme/web', 'globex/x'] }, 'image:pull')).toMatchObject({ everywhere: false, orgs: [], projects: ['acme/web'] });
    expect(narrowScope(scope, { actions: ['image:push'] }, 'image:pull')).toMatchObject({ everywhere: false, orgs: [], projects: [] });
    expect(narrowScope(scope, undefined, 'image:pull').orgs).toEqual([]);
    expect(narrowScope(scope, {}, 'image:pull')).toEqual(scope);
  });
});
