import type { Action, Decision, ListScope, ResourceRef } from '@co/auth';
import { AUTHENTICATED, builtInRole, type Role, type Rule, ruleGrants } from './roles';

/**
 * Where a user holds a role: the platform (no `org`), an organization (no `project`:
 * also every project in it), or one project.
 */
export interface Binding {
  role: string;
  org?: string;
  project?: string;
}

/** What the engine knows about the caller. The implicit `authenticated` role is added by the engine. */
export interface Subject {
  userId: string;
  bindings: Binding[];
}

/** Finds a role by name (built-in or custom); an unknown name grants nothing. */
export type RoleLookup = (name: string) => Role | undefined;

/** Whether the organization and project the resource names exist. */
export interface Existence {
  org: boolean;
  project: boolean;
}

const IMPLICIT: Binding = { role: AUTHENTICATED };

export function describeBinding(binding: Binding): string {
  if (!binding.org) return binding.role;
  return `${binding.role} of ${binding.project ? `${binding.org}/${binding.project}` : binding.org}`;
}

function isPlatform(binding: Binding): boolean {
  return !binding.org;
}

/**
 * Whether a binding reaches a resource: a platform binding everything; an organization
 * binding its organization and every project in it; a project binding that project,
 * and its organization only to see it (organization:view, project:view).
 */
export function reaches(binding: Binding, action: Action, resource: ResourceRef): boolean {
  if (isPlatform(binding)) return true;
  if (binding.org !== resource.org) return false;
  if (!binding.project) return true;
  if (resource.project) return resource.project === binding.project;
  return action === 'organization:view' || action === 'project:view';
}

type RuleOutcome = 'granted' | 'not-own' | 'outside-projects' | 'not-joined' | 'unreached';

function applyRule(rule: Rule, binding: Binding, subject: Subject, action: Action, resource: ResourceRef): RuleOutcome {
  if (!reaches(binding, action, resource)) return 'unreached';
  if (rule.projects && !(resource.project && rule.projects.includes(`${resource.org}/${resource.project}`))) return 'outside-projects';
  if (rule.scope === 'own-objects') return resource.owner !== undefined && resource.owner === subject.userId ? 'granted' : 'not-own';
  if (rule.scope === 'joined-projects' && isPlatform(binding)) {
    const joined = subject.bindings.some((other) => !isPlatform(other) && reaches(other, action, resource));
    return joined ? 'granted' : 'not-joined';
  }
  return 'granted';
}

/**
 * May the subject do `action` on `resource`? Deny by default. `visible` is false when
 * the organization (or the project, when named) does not exist, or when the subject
 * holds no role in that organization and none at the platform level.
 */
export function authorize(subject: Subject, roles: RoleLookup, action: Action, resource: ResourceRef, existence: Existence): Decision {
  const visible = visibility(subject, resource, existence);
  if (!visible.visible) return { allowed: false, visible: false, reason: visible.reason };
  const lookup = (name: string) => (name === AUTHENTICATED ? builtInRole(AUTHENTICATED) : roles(name));
  const restrictions: string[] = [];
  const reaching: Binding[] = [];
  for (const binding of [...subject.bindings, IMPLICIT]) {
    const role = lookup(binding.role);
    if (!role) continue;
    if (binding !== IMPLICIT && reaches(binding, action, resource)) reaching.push(binding);
    for (const rule of role.rules) {
      if (!ruleGrants(rule, action)) continue;
      const outcome = applyRule(rule, binding, subject, action, resource);
      if (outcome === 'granted') return { allowed: true, visible: true, reason: `${describeBinding(binding)} may ${action}` };
      if (outcome === 'not-own') restrictions.push(`${describeBinding(binding)} may ${action} only on objects they created`);
      if (outcome === 'outside-projects') restrictions.push(`${describeBinding(binding)} may ${action} only in ${rule.projects!.join(', ')}`);
      if (outcome === 'not-joined') restrictions.push(`${describeBinding(binding)} may ${action} only in projects they joined`);
    }
  }
  if (restrictions.length) return { allowed: false, visible: true, reason: restrictions.join('; ') };
  const where = resource.org ? (resource.project ? `${resource.org}/${resource.project}` : resource.org) : 'the platform';
  if (!reaching.length) {
    const nearby = subject.bindings.filter((binding) => binding.org === resource.org);
    if (nearby.length) return { allowed: false, visible: true, reason: `${nearby.map(describeBinding).join(', ')} does not reach ${where}` };
    return { allowed: false, visible: true, reason: `you hold no role that reaches ${where}` };
  }
  return { allowed: false, visible: true, reason: `${reaching.map(describeBinding).join(', ')} may not ${action}` };
}

function visibility(subject: Subject, resource: ResourceRef, existence: Existence): { visible: boolean; reason: string } {
  if (!resource.org) return { visible: true, reason: '' };
  if (!existence.org) return { visible: false, reason: `organization ${resource.org} does not exist` };
  if (resource.project && !existence.project) return { visible: false, reason: `project ${resource.org}/${resource.project} does not exist` };
  if (subject.bindings.some((binding) => isPlatform(binding) || binding.org === resource.org)) return { visible: true, reason: '' };
  return { visible: false, reason: `you hold no role in organization ${resource.org}` };
}

/**
 * Where the subject may do `action`, to filter lists. A project binding contributes its
 * project (for organization:view too: the organization of a listed project is visible).
 */
export function listScope(subject: Subject, roles: RoleLookup, action: Action): ListScope {
  const scope = { everywhere: false, orgs: new Set<string>(), projects: new Set<string>(), ownEverywhere: false, ownOrgs: new Set<string>(), ownProjects: new Set<string>() };
  const lookup = (name: string) => (name === AUTHENTICATED ? builtInRole(AUTHENTICATED) : roles(name));
  const joined = subject.bindings.filter((binding) => !isPlatform(binding));
  for (const binding of [...subject.bindings, IMPLICIT]) {
    const role = lookup(binding.role);
    if (!role) continue;
    for (const rule of role.rules) {
      if (!ruleGrants(rule, action)) continue;
      const own = rule.scope === 'own-objects';
      const orgs = own ? scope.ownOrgs : scope.orgs;
      const projects = own ? scope.ownProjects : scope.projects;
      const add = (target: Binding) => {
        if (rule.projects) {
          for (const project of rule.projects) {
            const [org, name] = project.split('/');
            if (org === target.org && (!target.project || target.project === name)) projects.add(project);
          }
        } else if (target.project) {
          projects.add(`${target.org}/${target.project}`);
        } else {
          orgs.add(target.org!);
        }
      };
      if (!isPlatform(binding)) {
        add(binding);
      } else if (rule.scope === 'joined-projects') {
        joined.forEach(add);
      } else if (rule.projects) {
        rule.projects.forEach((project) => projects.add(project));
      } else if (own) {
        scope.ownEverywhere = true;
      } else {
        scope.everywhere = true;
      }
    }
  }
  const sorted = (values: Set<string>) => [...values].sort();
  if (scope.everywhere) return { everywhere: true, orgs: [], projects: [], ownEverywhere: false, ownOrgs: [], ownProjects: [] };
  const orgs = sorted(scope.orgs);
  const insideOrgs = (project: string) => orgs.includes(project.split('/')[0]);
  const ownOrgs = scope.ownEverywhere ? [] : sorted(scope.ownOrgs).filter((org) => !orgs.includes(org));
  return {
    everywhere: false,
    orgs,
    projects: sorted(scope.projects).filter((project) => !insideOrgs(project)),
    ownEverywhere: scope.ownEverywhere,
    ownOrgs,
    ownProjects: scope.ownEverywhere ? [] : sorted(scope.ownProjects).filter((project) => !insideOrgs(project) && !scope.projects.has(project) && !ownOrgs.includes(project.split('/')[0])),
  };
}
