/** The error codes of the OCI Distribution Specification v1.1, with the status each is answered with. */
export const OCI_ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 415,
  TOOMANYREQUESTS: 429,
  /** distribution's answer to a bad `n` of the tag list (not in the spec's table). */
  PAGINATION_NUMBER_INVALID: 400,
  /** An unexpected failure of the registry itself (logged); never bad input. */
  UNKNOWN: 500,
} as const;

export type OciErrorCode = keyof typeof OCI_ERROR_STATUS;

/**
 * An answer of the /v2 API: `{"errors":[{"code","message","detail"}]}` with the spec's
 * code. `status` overrides the code's usual status where the spec asks for another one
 * (413 for a manifest over the limit, 416 for a chunk out of order, 405 for an
 * operation the registry does not offer).
 */
export class OciError extends Error {
  readonly status: number;

  constructor(
    readonly code: OciErrorCode,
    message: string,
    readonly detail?: Record<string, unknown>,
    status?: number,
    /** Extra headers of the answer (`Range` of an upload, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'OciError';
    this.status = status ?? OCI_ERROR_STATUS[code];
  }

  body(): { errors: { code: string; message: string; detail: Record<string, unknown> }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail ?? {} }] };
  }
}
