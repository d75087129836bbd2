import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { AUTH_METADATA, type AuthContext, type AuthRequirement } from '../decorators';
import type { Principal } from '../access';
import type { AuditActor } from './audit-record';
import { NOT_AUDITED, type AuditExclusion } from './not-audited.decorator';

const MUTATING_HTTP_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** gRPC methods that only read: every other method is audited. */
const READING_RPC = /^(get|list|watch|check|authorize|introspect)/i;

export function isMutatingHttp(method: string): boolean {
  return MUTATING_HTTP_METHODS.has(method.toUpperCase());
}

export function isMutatingRpc(method: string): boolean {
  return !READING_RPC.test(method);
}

/** What of a handler's calls is audited: all, only those that fail, or none. */
export function auditedCalls(reflector: Reflector, context: ExecutionContext): 'all' | 'refusals' | 'none' {
  const exclusion = reflector.getAllAndOverride<AuditExclusion | undefined>(NOT_AUDITED, [context.getHandler(), context.getClass()]);
  if (!exclusion) return 'all';
  return exclusion.refusalsOnly ? 'refusals' : 'none';
}

export function requirementOf(reflector: Reflector, context: ExecutionContext): AuthRequirement | undefined {
  return reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_METADATA, [context.getHandler(), context.getClass()]);
}

/** The declared action, else what the guard recorded. */
export function declaredAction(requirement: AuthRequirement | undefined, auth: AuthContext | undefined): string | undefined {
  return auth?.action ?? (requirement?.kind === 'action' ? requirement.action : undefined);
}

/**
 * Who called. An anonymous call that names a `username` (a login) records the name
 * attempted, and nothing else of its body.
 */
export function actorOf(principal: Principal | undefined, attemptedUsername?: unknown): AuditActor {
  if (principal?.kind === 'user') {
    return { kind: 'user', userId: principal.userId, username: principal.username, ...(principal.tokenId ? { tokenId: principal.tokenId } : {}) };
  }
  if (typeof attemptedUsername === 'string' && attemptedUsername.length > 0) {
    return { kind: 'anonymous', username: attemptedUsername.slice(0, 64) };
  }
  return { kind: 'anonymous' };
}

/** Organization and project: the resource the guard resolved, else route parameters named so. */
export function scopeOf(auth: AuthContext | undefined, params: Record<string, string> | undefined): { org?: string; project?: string } {
  const resource = auth?.resource;
  if (resource?.org) return { org: resource.org, project: resource.project || undefined };
  const org = params?.org || undefined;
  let project = params?.project || undefined;
  // Some routes name a project as `org/project`.
  if (project?.includes('/')) {
    const [projectOrg, name] = project.split('/', 2);
    return { org: org ?? projectOrg, project: name };
  }
  return { org, project };
}

/** Identifiers only: route parameters are slugs and ids; anything long is cut. */
export function safeParams(params: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!params) return undefined;
  const entries = Object.entries(params)
    .filter(([, value]) => typeof value === 'string' && value.length > 0)
    .map(([key, value]) => [key, (value as string).slice(0, 191)]);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** Body fields that name what a call acts on; every other field (passwords, definitions) stays out. */
const IDENTIFYING_FIELDS = ['name', 'username', 'role', 'project'];

export function identifyingFields(body: unknown): Record<string, string> | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const entries = IDENTIFYING_FIELDS.map((key) => [key, (body as Record<string, unknown>)[key]] as const)
    .filter((entry): entry is readonly [string, string] => typeof entry[1] === 'string' && entry[1].length > 0 && entry[1].length <= 128);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** The trace id from a W3C `traceparent` header value. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const parts = traceparent?.split('-');
  return parts && parts.length >= 4 && /^[0-9a-f]{32}$/.test(parts[1]) ? parts[1] : undefined;
}
