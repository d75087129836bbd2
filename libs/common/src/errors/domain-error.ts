import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * An error the caller can act on: a stable machine-readable code (`WORKFLOW.NOT_FOUND`),
 * a sentence that says what to fix, and how it maps to HTTP and gRPC.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
    readonly grpcStatus: GrpcStatus,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 404, GrpcStatus.NOT_FOUND, details);
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 409, GrpcStatus.ABORTED, details);
  }
}

export class InvalidInputError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 400, GrpcStatus.INVALID_ARGUMENT, details);
  }
}

export class UnavailableError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 503, GrpcStatus.UNAVAILABLE, details);
  }
}

/** Codes the platform itself answers with, independent of any service's domain. */
export const CommonErrorCodes = {
  REQUEST_INVALID: 'REQUEST.INVALID',
  REQUEST_MALFORMED: 'REQUEST.MALFORMED',
  REQUEST_TOO_LARGE: 'REQUEST.TOO_LARGE',
  ROUTE_NOT_FOUND: 'ROUTE.NOT_FOUND',
  METHOD_NOT_ALLOWED: 'REQUEST.METHOD_NOT_ALLOWED',
  UNSUPPORTED_MEDIA_TYPE: 'REQUEST.UNSUPPORTED_MEDIA_TYPE',
  UNAUTHENTICATED: 'AUTH.UNAUTHENTICATED',
  FORBIDDEN: 'AUTH.FORBIDDEN',
  INTERNAL: 'INTERNAL',
} as const;
