import type { QuotaLimits } from '@co/auth';

/** The quota limits crew keeps (implemented in quotas/); absent limits are unlimited. */
export interface QuotaReader {
  limits(org: string, project?: string): Promise<{ org: QuotaLimits; project: QuotaLimits }>;
}

export const QUOTA_READER = Symbol('QUOTA_READER');
