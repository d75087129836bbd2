import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import type { Request } from 'express';
import { type Observable, tap } from 'rxjs';
import { AllExceptionsFilter } from '@co/common';
import { AUTH_CONTEXT, type AuthContext } from '../decorators';
import { AuditPublisher } from './audit-publisher';
import { AUDIT_NOTE, type AuditNote } from './audit.guard';
import { actorOf, auditedCalls, declaredAction, identifyingFields, isMutatingRpc, requirementOf, scopeOf, traceIdOf } from './audit-calls';

/** Maps errors exactly as the answer will: the same code and status the caller sees. */
const errors = new AllExceptionsFilter();

/**
 * Audits every mutating call once it has ended. gRPC calls are recorded here; HTTP
 * calls are recorded by AuditGuard when the response is sent, and this interceptor
 * only notes the error code of a handler that failed.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AuditPublisher) private readonly publisher: AuditPublisher,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const note = (context.switchToHttp().getRequest<Request>() as unknown as Record<symbol, AuditNote | undefined>)[AUDIT_NOTE];
      if (!note) return next.handle();
      return next.handle().pipe(tap({ error: (error: unknown) => (note.errorCode = errors.map(error).body.error.code) }));
    }
    if (context.getType() !== 'rpc') return next.handle();
    const method = rpcMethodOf(context);
    const audited = auditedCalls(this.reflector, context);
    if (!isMutatingRpc(method.rpc) || audited === 'none') return next.handle();
    let recorded = false;
    const record = (error?: unknown) => {
      if (recorded) return;
      recorded = true;
      if (audited === 'refusals' && error === undefined) return;
      this.recordRpc(context, method, error);
    };
    return next.handle().pipe(tap({ error: (error: unknown) => record(error ?? new Error('failed')), complete: () => record(), unsubscribe: () => record() }));
  }

  private recordRpc(context: ExecutionContext, method: { service?: string; rpc: string }, error?: unknown) {
    const rpc = context.switchToRpc();
    const metadata = rpc.getContext<Metadata | undefined>();
    const auth = (metadata as unknown as Record<symbol, AuthContext | undefined> | undefined)?.[AUTH_CONTEXT];
    const data = (rpc.getData() ?? {}) as Record<string, unknown>;
    const requirement = requirementOf(this.reflector, context);
    const operation = method.service ? `${method.service}/${method.rpc}` : method.rpc;
    const mapped = error === undefined ? undefined : errors.map(error);
    const param = requirement?.kind === 'action' ? (requirement.param ?? 'id') : 'id';
    const id = typeof data[param] === 'string' && data[param] ? (data[param] as string).slice(0, 191) : undefined;
    const call = context.getArgByIndex(2) as { getPeer?: () => string } | undefined;
    const traceparent = metadata?.get?.('traceparent')?.[0];
    this.publisher.record({
      actor: actorOf(auth?.principal, data.username),
      action: declaredAction(requirement, auth) ?? operation,
      transport: 'grpc',
      operation,
      outcome: mapped ? 'failure' : 'success',
      status: mapped ? mapped.httpStatus : 200,
      errorCode: mapped?.body.error.code,
      ...scopeOf(auth, stringFields(data, ['org', 'project'])),
      target: { ...(id ? { id } : {}), ...(identifyingFields(data) ? { fields: identifyingFields(data) } : {}) },
      sourceAddress: safePeer(call),
      traceId: traceIdOf(typeof traceparent === 'string' ? traceparent : undefined),
    });
  }
}

function rpcMethodOf(context: ExecutionContext): { service?: string; rpc: string } {
  const patterns = Reflect.getMetadata(PATTERN_METADATA, context.getHandler()) as unknown;
  const pattern = Array.isArray(patterns) ? (patterns[0] as { service?: string; rpc?: string } | undefined) : undefined;
  const handler = context.getHandler().name;
  return { service: pattern?.service, rpc: pattern?.rpc ?? handler.charAt(0).toUpperCase() + handler.slice(1) };
}

function stringFields(data: Record<string, unknown>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((key) => typeof data[key] === 'string').map((key) => [key, data[key] as string]));
}

function safePeer(call: { getPeer?: () => string } | undefined): string | undefined {
  try {
    return call?.getPeer?.();
  } catch {
    return undefined;
  }
}
