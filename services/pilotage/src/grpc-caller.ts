import type { Metadata } from '@grpc/grpc-js';
import { AUTH_CONTEXT, type AuthContext, type Principal } from '@co/auth';

/** The caller the auth guard authenticated, kept on the gRPC call's metadata. */
export function callerOf(metadata: Metadata | undefined): Principal {
  const auth = (metadata as unknown as Record<symbol, AuthContext | undefined> | undefined)?.[AUTH_CONTEXT];
  if (!auth) throw new Error('callerOf used on a call the auth guard did not see');
  return auth.principal;
}

export function callerName(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.username : undefined;
}
