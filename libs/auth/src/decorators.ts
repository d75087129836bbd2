import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata, type Type } from '@nestjs/common';
import type { Action } from './actions';
import type { Principal, ResourceRef } from './access';

export const AUTH_METADATA = 'co:auth';

/** Loads what the guard needs to decide about one resource; throws the service's own 404 when it does not exist. */
export interface ResourceResolver {
  resolve(id: string, principal: Principal): Promise<ResourceRef>;
  /** The error a missing resource gets; a hidden one (another organization's) gets the same. */
  notFound(id: string): Error;
}

export type AuthRequirement =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | {
      kind: 'action';
      action: Action;
      /** A provider that loads the resource named by `param`; without it the handler checks itself (AccessGate). */
      resolver?: Type<ResourceResolver>;
      /** Route parameter (HTTP) or request field (gRPC) holding the resource id. Default `id`. */
      param?: string;
    };

/** Anyone, signed in or not (health, login, JWKS, task events with their own tokens). */
export const Public = () => SetMetadata(AUTH_METADATA, { kind: 'public' } satisfies AuthRequirement);

/** Any signed-in user; what they may do is decided by the handler (their own tokens, say). */
export const Authenticated = () => SetMetadata(AUTH_METADATA, { kind: 'authenticated' } satisfies AuthRequirement);

/**
 * The caller must be allowed `action`. With a resolver, the guard loads the resource
 * named by the route parameter (or gRPC field) `param` and decides before the handler
 * runs: another organization's resource answers 404, a known one without permission
 * 403. Without one, the guard only authenticates and the handler decides with
 * AccessGate once it knows the resource. Handlers with no decorator are refused.
 */
export function Authorize(action: Action, options: { resolver?: Type<ResourceResolver>; param?: string } = {}) {
  return applyDecorators(SetMetadata(AUTH_METADATA, { kind: 'action', action, ...options } satisfies AuthRequirement));
}

/** What the guard learnt about a call, kept on the request (HTTP) or call metadata (gRPC). */
export interface AuthContext {
  principal: Principal;
  action?: Action;
  resource?: ResourceRef;
  /** Source address of the call. */
  address?: string;
}

export const AUTH_CONTEXT = Symbol('co:auth-context');

/** The AuthContext of a call: HTTP request, or gRPC call metadata. */
export function authContextOf(context: ExecutionContext): AuthContext | undefined {
  const carrier = context.getType() === 'rpc' ? context.switchToRpc().getContext() : context.switchToHttp().getRequest();
  return carrier?.[AUTH_CONTEXT] as AuthContext | undefined;
}

/** The caller, as a handler parameter: `@CurrentPrincipal() principal: Principal`. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const auth = authContextOf(context);
  if (!auth) throw new Error('CurrentPrincipal used on a handler the auth guard did not see');
  return auth.principal;
});

/** The signed-in user's id (the handler must not be @Public). */
export function userIdOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.userId : undefined;
}
