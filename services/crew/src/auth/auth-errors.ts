import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError } from '@co/common';

export { REALM, UnauthenticatedError } from '@co/auth';

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
