import { ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { throwError } from 'rxjs';
import type { Request, Response } from 'express';
import { CommonErrorCodes, DomainError } from './domain-error';
import type { ErrorBody } from './error-body';

interface Mapped {
  httpStatus: number;
  grpcStatus: GrpcStatus;
  body: ErrorBody;
}

const HTTP_TO_GRPC: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  409: GrpcStatus.ABORTED,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
  503: GrpcStatus.UNAVAILABLE,
};

const HTTP_CODES: Record<number, string> = {
  400: CommonErrorCodes.REQUEST_INVALID,
  401: CommonErrorCodes.UNAUTHENTICATED,
  403: CommonErrorCodes.FORBIDDEN,
  404: CommonErrorCodes.ROUTE_NOT_FOUND,
  405: CommonErrorCodes.METHOD_NOT_ALLOWED,
  413: CommonErrorCodes.REQUEST_TOO_LARGE,
  415: CommonErrorCodes.UNSUPPORTED_MEDIA_TYPE,
};

/** Errors raised by body-parser before any controller runs. */
interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  expose?: boolean;
}

/**
 * The one place where errors become answers. Domain errors keep their code and
 * message; validation and parser errors get stable codes; anything else is a 500
 * with an error id that is logged with the stack, never shown to the caller.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost) {
    if (host.getType() === 'rpc' && exception instanceof RpcException) {
      return throwError(() => exception.getError());
    }
    const mapped = this.map(exception);
    if (host.getType() === 'rpc') {
      if (mapped.httpStatus >= 500) {
        this.logger.error({ msg: 'call failed', err: exception, errorId: mapped.body.error.details?.errorId });
      }
      const metadata = new Metadata();
      metadata.set('error-code', mapped.body.error.code);
      // What REST puts in `error.details` (e.g. every validation issue), as JSON.
      if (mapped.body.error.details) metadata.set('error-details', JSON.stringify(mapped.body.error.details));
      // Nest's gRPC server hands this object to grpc-js as the call's status.
      return throwError(() => ({ code: mapped.grpcStatus, message: mapped.body.error.message, metadata }));
    }
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    if (mapped.httpStatus >= 500) {
      this.logger.error({
        msg: 'request failed',
        err: exception,
        errorId: mapped.body.error.details?.errorId,
        path: request?.url,
      });
    }
    if (response.headersSent) return;
    response.status(mapped.httpStatus).json(mapped.body);
  }

  map(exception: unknown): Mapped {
    if (exception instanceof DomainError) {
      return {
        httpStatus: exception.httpStatus,
        grpcStatus: exception.grpcStatus,
        body: { error: { code: exception.code, message: exception.message, details: exception.details } },
      };
    }
    if (exception instanceof HttpException) return this.mapHttpException(exception);
    const parserError = exception as BodyParserError;
    if (parserError && typeof parserError === 'object' && typeof parserError.type === 'string') {
      const mappedParser = this.mapBodyParserError(parserError);
      if (mappedParser) return mappedParser;
    }
    const errorId = randomUUID();
    return {
      httpStatus: 500,
      grpcStatus: GrpcStatus.INTERNAL,
      body: {
        error: {
          code: CommonErrorCodes.INTERNAL,
          message: `An internal error occurred; report error id ${errorId} to the operators.`,
          details: { errorId },
        },
      },
    };
  }

  private mapHttpException(exception: HttpException): Mapped {
    const status = exception.getStatus();
    const response = exception.getResponse();
    let message = exception.message;
    let details: Record<string, unknown> | undefined;
    if (typeof response === 'object' && response !== null) {
      const raw = (response as { message?: unknown }).message;
      if (Array.isArray(raw)) {
        // class-validator: one sentence per violated constraint.
        message = `The request is invalid: ${raw.join('; ')}.`;
        details = { violations: raw };
      } else if (typeof raw === 'string') {
        message = raw;
      }
    }
    if (status === 404 && message.startsWith('Cannot ')) {
      message = `No route matches ${message.slice('Cannot '.length)}; see /api/docs for the API.`;
    }
    return {
      httpStatus: status,
      grpcStatus: HTTP_TO_GRPC[status] ?? (status >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.FAILED_PRECONDITION),
      body: { error: { code: HTTP_CODES[status] ?? `HTTP.${status}`, message, details } },
    };
  }

  private mapBodyParserError(error: BodyParserError): Mapped | undefined {
    switch (error.type) {
      case 'entity.too.large':
        return {
          httpStatus: 413,
          grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
          body: {
            error: {
              code: CommonErrorCodes.REQUEST_TOO_LARGE,
              message: `The request body is larger than the limit of ${error.limit} bytes; send a smaller body.`,
              details: { limitBytes: error.limit },
            },
          },
        };
      case 'entity.parse.failed':
        return {
          httpStatus: 400,
          grpcStatus: GrpcStatus.INVALID_ARGUMENT,
          body: {
            error: {
              code: CommonErrorCodes.REQUEST_MALFORMED,
              message: 'The request body is not valid JSON; check its syntax.',
            },
          },
        };
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return {
          httpStatus: 415,
          grpcStatus: GrpcStatus.INVALID_ARGUMENT,
          body: {
            error: {
              code: CommonErrorCodes.UNSUPPORTED_MEDIA_TYPE,
              message: 'The request body uses an unsupported encoding or charset; send UTF-8.',
            },
          },
        };
      default:
        return undefined;
    }
  }
}
