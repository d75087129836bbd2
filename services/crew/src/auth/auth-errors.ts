import { status as GrpcStatus } from '@grpc/grpc-js';
import { CommonErrorCodes, DomainError } from '@co/common';

export const REALM = 'containerops';

/** 401 AUTH.INVALID_CREDENTIALS: same answer for an unknown user and a wrong password. */
export class InvalidCredentialsError extends DomainError {
  constructor() {
    super('AUTH.INVALID_CREDENTIALS', 'The username or password is wrong.', 401, GrpcStatus.UNAUTHENTICATED);
  }
}

/** 401 AUTH.INVALID_REFRESH_TOKEN: unknown, expired, revoked or reused refresh token. */
export class InvalidRefreshTokenError extends DomainError {
  constructor(message = 'The refresh token is not valid (unknown, expired or revoked); log in again.') {
    super('AUTH.INVALID_REFRESH_TOKEN', message, 401, GrpcStatus.UNAUTHENTICATED);
  }
}

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

/** 429 AUTH.THROTTLED with Retry-After. */
export class ThrottledError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      'AUTH.THROTTLED',
      `Too many failed logins for this user or from this address; try again in ${retryAfterSeconds} seconds.`,
      429,
      GrpcStatus.RESOURCE_EXHAUSTED,
      { retryAfterSeconds },
    );
  }
}
