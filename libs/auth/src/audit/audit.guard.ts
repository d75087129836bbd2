import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { AUTH_CONTEXT, type AuthContext } from '../decorators';
import { AuditPublisher } from './audit-publisher';
import { actorOf, auditedCalls, declaredAction, identifyingFields, isMutatingHttp, isMutatingRpc, requirementOf, safeParams, scopeOf } from './audit-calls';
import { AUDIT_REFUSAL, type AuditRefusal, recordRpcCall, rpcMethodOf } from './audit-rpc';

/** What the interceptor learns about an HTTP call that the finished response cannot tell. */
export const AUDIT_NOTE = Symbol('co:audit-note');

export interface AuditNote {
  errorCode?: string;
}

/** Error codes of answers given before the handler ran (the auth guard's). */
const STATUS_CODES: Record<number, string> = { 401: 'AUTH.UNAUTHENTICATED', 403: 'AUTH.FORBIDDEN' };

/**
 * Arms the audit of a mutating call. It runs before the auth guard, so that a call
 * the auth guard refuses is audited too. An HTTP call is recorded when the response
 * has been sent: its final status is then known, whatever answered it. A gRPC call
 * gets a refusal recorder on its metadata, which the auth guard calls when it refuses
 * the call (a call that reaches its handler is recorded by AuditInterceptor).
 */
@Injectable()
export class AuditGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AuditPublisher) private readonly publisher: AuditPublisher,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'rpc') return this.armRpc(context);
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const audited = auditedCalls(this.reflector, context);
    if (!isMutatingHttp(req.method) || audited === 'none') return true;
    const requirement = requirementOf(this.reflector, context);
    const note: AuditNote = {};
    (req as unknown as Record<symbol, AuditNote>)[AUDIT_NOTE] = note;
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    res.once('close', () => {
      const auth = (req as unknown as Record<symbol, AuthContext | undefined>)[AUTH_CONTEXT];
      const params = safeParams(req.params);
      const status = res.writableFinished ? res.statusCode : 499;
      if (audited === 'refusals' && status < 400) return;
      const operation = `${req.method} ${route}`;
      const body = req.body as Record<string, unknown> | undefined;
      this.publisher.record({
        actor: actorOf(auth?.principal, body && typeof body === 'object' ? body.username : undefined),
        action: declaredAction(requirement, auth) ?? operation,
        transport: 'http',
        operation,
        outcome: status < 400 ? 'success' : 'failure',
        status,
        errorCode: status >= 400 ? (note.errorCode ?? STATUS_CODES[status]) : undefined,
        ...scopeOf(auth, params),
        target: withoutEmpty({ id: auth?.resource?.id ?? params?.id, params, fields: identifyingFields(body) }),
        sourceAddress: req.socket?.remoteAddress,
        traceId: stringHeader(res.getHeader('X-Trace-Id')),
      });
    });
    return true;
  }

  private armRpc(context: ExecutionContext): boolean {
    const metadata = context.switchToRpc().getContext<object | undefined>();
    if (!metadata || typeof metadata !== 'object') return true;
    const method = rpcMethodOf(context);
    if (!isMutatingRpc(method.rpc) || auditedCalls(this.reflector, context) === 'none') return true;
    let recorded = false;
    const refused: AuditRefusal = (error) => {
      if (recorded) return;
      recorded = true;
      recordRpcCall(this.publisher, this.reflector, context, method, error ?? new Error('refused'));
    };
    (metadata as Record<symbol, AuditRefusal>)[AUDIT_REFUSAL] = refused;
    return true;
  }
}

function withoutEmpty<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}

function stringHeader(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
