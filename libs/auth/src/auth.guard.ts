import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import type { Request, Response } from 'express';
import { ACCESS_CONTROL, ANONYMOUS, type AccessControl, type Principal } from './access';
import { parseAuthorization } from './credentials';
import { AUTH_CONTEXT, AUTH_METADATA, type AuthContext, type AuthRequirement, type ResourceResolver } from './decorators';
import { ForbiddenError, UnauthenticatedError } from './errors';
import { auditRefusalOf } from './audit/audit-rpc';

/**
 * The one guard of every service, HTTP and gRPC alike. Deny by default: a handler
 * without @Public, @Authenticated or @Authorize is refused. Credentials are checked by
 * the service's AccessControl (crew, reached over gRPC, or crew's own model).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private access?: AccessControl;

  constructor(
    private readonly reflector: Reflector,
    private readonly modules: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await this.check(context);
    } catch (error) {
      // A refused gRPC call never reaches the audit interceptor: AuditGuard armed a recorder for it.
      if (context.getType() === 'rpc') auditRefusalOf(context.switchToRpc().getContext())?.(error);
      throw error;
    }
  }

  private async check(context: ExecutionContext): Promise<boolean> {
    const type = context.getType();
    if (type !== 'http' && type !== 'rpc') return true;
    const requirement = this.reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_METADATA, [context.getHandler(), context.getClass()]);
    const carrier = type === 'rpc' ? context.switchToRpc().getContext<Metadata>() : context.switchToHttp().getRequest<Request>();
    const auth: AuthContext = { principal: ANONYMOUS, address: type === 'http' ? (carrier as Request).socket?.remoteAddress : undefined };
    (carrier as unknown as Record<symbol, AuthContext>)[AUTH_CONTEXT] = auth;
    if (!requirement) {
      throw new ForbiddenError('call this endpoint', 'it declares no access rule, and what is not allowed is denied');
    }
    if (requirement.kind === 'public') return true;
    try {
      auth.principal = await this.authenticate(type === 'rpc' ? header(carrier as Metadata) : (carrier as Request).headers.authorization);
    } catch (error) {
      if (error instanceof UnauthenticatedError && type === 'http') {
        context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', error.challenge());
      }
      throw error;
    }
    if (requirement.kind === 'authenticated' || !requirement.resolver) return true;
    const resolver = this.modules.get(requirement.resolver, { strict: false }) as ResourceResolver;
    const param = requirement.param ?? 'id';
    const id = String(
      (type === 'rpc' ? (context.switchToRpc().getData() as Record<string, unknown>)?.[param] : (carrier as Request).params?.[param]) ?? '',
    );
    const resource = await resolver.resolve(id, auth.principal);
    auth.action = requirement.action;
    auth.resource = resource;
    const decision = await this.accessControl().authorize(auth.principal, requirement.action, resource);
    if (decision.allowed) return true;
    if (!decision.visible) throw resolver.notFound(id);
    throw new ForbiddenError(requirement.action, decision.reason);
  }

  private async authenticate(authorization: string | undefined): Promise<Principal> {
    const credentials = parseAuthorization(authorization);
    if (!credentials) throw new UnauthenticatedError('send Authorization: Bearer <token>');
    return this.accessControl().authenticate(credentials);
  }

  private accessControl(): AccessControl {
    this.access ??= this.modules.get<AccessControl>(ACCESS_CONTROL, { strict: false });
    return this.access;
  }
}

function header(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get?.('authorization')?.[0];
  return value === undefined ? undefined : String(value);
}
