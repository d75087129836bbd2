import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, InvalidInputError } from '@co/common';

/** 413 LOGS.PUSH_TOO_LARGE: the request body (after gzip) is over the push limit. */
export class PushTooLargeError extends DomainError {
  constructor(limit: number) {
    super('LOGS.PUSH_TOO_LARGE', `A push may carry at most ${limit} bytes (after decompression); send the lines in smaller batches.`, 413, GrpcStatus.RESOURCE_EXHAUSTED, { limit });
  }
}

/** 415: only Loki's JSON shape is read (not its protobuf). */
export class PushMediaTypeError extends DomainError {
  constructor(type: string) {
    super(
      'LOGS.UNSUPPORTED_MEDIA_TYPE',
      `Send the push as Content-Type: application/json (Loki's JSON shape), optionally with Content-Encoding: gzip; ${JSON.stringify(type)} is not read.`,
      415,
      GrpcStatus.INVALID_ARGUMENT,
    );
  }
}

export function invalidPush(where: string, problem: string): InvalidInputError {
  return new InvalidInputError('LOGS.INVALID_PUSH', `${where}: ${problem}.`, { where });
}
