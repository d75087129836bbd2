import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { AllExceptionsFilter } from '@co/common';
import { AUTH_CONTEXT, type AuthContext } from '../decorators';
import type { AuditPublisher } from './audit-publisher';
import { actorOf, declaredAction, identifyingFields, requirementOf, scopeOf, traceIdOf } from './audit-calls';

/** Maps errors exactly as the answer will: the same code and status the caller sees. */
const errors = new AllExceptionsFilter();

/**
 * Set by AuditGuard on the metadata of an audited gRPC call: the auth guard calls it
 * with its error when it refuses the call, which then never reaches the interceptor.
 */
export const AUDIT_REFUSAL = Symbol('co:audit-refusal');

export type AuditRefusal = (error: unknown) => void;

/** The refusal recorder AuditGuard armed on a gRPC call, if any. */
export function auditRefusalOf(metadata: unknown): AuditRefusal | undefined {
  return (metadata as Record<symbol, AuditRefusal | undefined> | undefined)?.[AUDIT_REFUSAL];
}

/** The gRPC service and method of a handler, as the proto names them (`WorkflowService`, `CreateWorkflow`). */
export function rpcMethodOf(context: ExecutionContext): { service?: string; rpc: string } {
  const patterns = Reflect.getMetadata(PATTERN_METADATA, context.getHandler()) as unknown;
  const pattern = Array.isArray(patterns) ? (patterns[0] as { service?: string; rpc?: string } | undefined) : undefined;
  // Generated controllers register methods by their handler names (createWorkflow): shown as the proto names them.
  const rpc = pattern?.rpc ?? context.getHandler().name;
  return { service: pattern?.service, rpc: rpc.charAt(0).toUpperCase() + rpc.slice(1) };
}

/** Records one ended gRPC call: a success without `error`, else a failure with its mapped code and status. */
export function recordRpcCall(
  publisher: AuditPublisher,
  reflector: Reflector,
  context: ExecutionContext,
  method: { service?: string; rpc: string },
  error?: unknown,
): void {
  const rpc = context.switchToRpc();
  const metadata = rpc.getContext<Metadata | undefined>();
  const auth = (metadata as unknown as Record<symbol, AuthContext | undefined> | undefined)?.[AUTH_CONTEXT];
  const data = (rpc.getData() ?? {}) as Record<string, unknown>;
  const requirement = requirementOf(reflector, context);
  const operation = method.service ? `${method.service}/${method.rpc}` : method.rpc;
  const mapped = error === undefined ? undefined : errors.map(error);
  const param = requirement?.kind === 'action' ? (requirement.param ?? 'id') : 'id';
  const id = typeof data[param] === 'string' && data[param] ? (data[param] as string).slice(0, 191) : undefined;
  const call = context.getArgByIndex(2) as { getPeer?: () => string } | undefined;
  const traceparent = metadata?.get?.('traceparent')?.[0];
  publisher.record({
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
