import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, InvalidInputError } from '@co/common';

/** Stable codes of the image import (`POST /api/v1/workspaces/{ws}/images/import`). */
export const ImportErrorCodes = {
  TOO_LARGE: 'IMPORT.TOO_LARGE',
  ARCHIVE_INVALID: 'IMPORT.ARCHIVE_INVALID',
  ARCHIVE_UNSAFE: 'IMPORT.ARCHIVE_UNSAFE',
  TOO_MANY_ENTRIES: 'IMPORT.TOO_MANY_ENTRIES',
  MANIFEST_TOO_LARGE: 'IMPORT.MANIFEST_TOO_LARGE',
  MANIFEST_INVALID: 'IMPORT.MANIFEST_INVALID',
  BLOB_MISSING: 'IMPORT.BLOB_MISSING',
  DIGEST_MISMATCH: 'IMPORT.DIGEST_MISMATCH',
  NAME_REQUIRED: 'IMPORT.NAME_REQUIRED',
  NAME_INVALID: 'IMPORT.NAME_INVALID',
  TAG_AMBIGUOUS: 'IMPORT.TAG_AMBIGUOUS',
  QUOTA_EXCEEDED: 'IMPORT.QUOTA_EXCEEDED',
  UNSUPPORTED_MEDIA_TYPE: 'IMPORT.UNSUPPORTED_MEDIA_TYPE',
} as const;

/** 413: the archive (as sent, or unpacked) is over the limit. */
export class ImportTooLargeError extends DomainError {
  constructor(limit: number, what: 'archive' | 'unpacked archive') {
    super(
      ImportErrorCodes.TOO_LARGE,
      `The ${what} is larger than the limit of ${limit} bytes; import a smaller archive or ask an administrator to raise CO_DOCKYARD_MAX_IMPORT_BYTES.`,
      413,
      GrpcStatus.RESOURCE_EXHAUSTED,
      { limitBytes: limit },
    );
  }
}

/** 400 with one of the import's codes. */
export function importInvalid(code: (typeof ImportErrorCodes)[keyof typeof ImportErrorCodes], message: string, details?: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(code, message, details);
}

export class ImportQuotaError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ImportErrorCodes.QUOTA_EXCEEDED, message, 403, GrpcStatus.PERMISSION_DENIED, details);
  }
}

export class ImportMediaTypeError extends DomainError {
  constructor(contentType: string) {
    super(
      ImportErrorCodes.UNSUPPORTED_MEDIA_TYPE,
      `An import takes the archive itself as the body (application/x-tar, application/gzip or application/octet-stream), not ${contentType}.`,
      415,
      GrpcStatus.INVALID_ARGUMENT,
    );
  }
}
