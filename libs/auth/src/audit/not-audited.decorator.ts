import { SetMetadata } from '@nestjs/common';

export const NOT_AUDITED = 'co:not-audited';

export interface AuditExclusion {
  reason: string;
  /** Refused calls (status 400 and above) are still recorded. */
  refusalsOnly: boolean;
}

/**
 * Leaves a mutating handler out of the audit trail. Only for machine traffic that is
 * recorded elsewhere already; `reason` says where (it is kept beside the handler so
 * that a reviewer sees why).
 */
export const NotAudited = (reason: string) => SetMetadata(NOT_AUDITED, { reason, refusalsOnly: false } satisfies AuditExclusion);

/**
 * Records only the calls of a handler that fail: for frequent machine calls whose
 * successes are recorded elsewhere (a component's protocol events are run events),
 * while a refused one (a forged or stale token) still reaches the audit trail.
 */
export const AuditRefusalsOnly = (reason: string) => SetMetadata(NOT_AUDITED, { reason, refusalsOnly: true } satisfies AuditExclusion);
