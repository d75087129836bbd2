import { status as GrpcStatus } from '@grpc/grpc-js';
import { CommonErrorCodes, DomainError } from '@co/common';

export const REALM = 'containerops';

/** 401 AUTH.UNAUTHENTICATED, answered with a `WWW-Authenticate: Bearer` challenge. */
export class UnauthenticatedError extends DomainError {
  constructor(
    readonly description: string,
    readonly bearerError?: 'invalid_token' | 'invalid_request',
  ) {
    super(CommonErrorCodes.UNAUTHENTICATED, `Authentication required: ${description}.`, 401, GrpcStatus.UNAUTHENTICATED);
  }

  challenge(): string {
    const parts = [`realm="${REALM}"`];
    if (this.bearerError) parts.push(`error="${this.bearerError}"`, `error_description="${this.description.replace(/["\\]/g, '')}"`);
    return `Bearer ${parts.join(', ')}`;
  }
}

/** 403 AUTH.FORBIDDEN: the caller may see the resource but not do this to it. */
export class ForbiddenError extends DomainError {
  constructor(action: string, reason: string) {
    super(CommonErrorCodes.FORBIDDEN, `You may not ${action} here: ${reason}.`, 403, GrpcStatus.PERMISSION_DENIED, { action });
  }
}

/** 503 AUTH.UNAVAILABLE: crew could not be asked; nothing is allowed meanwhile. */
export class AccessUnavailableError extends DomainError {
  constructor(detail: string) {
    super('AUTH.UNAVAILABLE', `Access cannot be checked right now (${detail}); retry shortly.`, 503, GrpcStatus.UNAVAILABLE);
  }
}
