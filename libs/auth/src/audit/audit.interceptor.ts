import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type Observable, tap } from 'rxjs';
import { AllExceptionsFilter } from '@co/common';
import { AuditPublisher } from './audit-publisher';
import { AUDIT_NOTE, type AuditNote } from './audit.guard';
import { auditedCalls, isMutatingRpc } from './audit-calls';
import { recordRpcCall, rpcMethodOf } from './audit-rpc';

/** Maps errors exactly as the answer will: the same code and status the caller sees. */
const errors = new AllExceptionsFilter();

/**
 * Audits every mutating call once it has ended. gRPC calls that reach their handler
 * are recorded here (those the auth guard refuses, by AuditGuard's refusal
 * recorder); HTTP calls are recorded by AuditGuard when the response is sent, and
 * this interceptor only notes the error code of a handler that failed.
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
      recordRpcCall(this.publisher, this.reflector, context, method, error);
    };
    return next.handle().pipe(tap({ error: (error: unknown) => record(error ?? new Error('failed')), complete: () => record(), unsubscribe: () => record() }));
  }
}
