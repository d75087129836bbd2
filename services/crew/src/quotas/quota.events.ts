/** A quota's value as set: a whole number, or null for no limit. An absent key takes the default. */
export interface QuotaValues {
  maxWorkflows?: number | null;
  maxConcurrentRuns?: number | null;
  maxRegistryBytes?: number | null;
}

export const QUOTA_KEYS = ['maxWorkflows', 'maxConcurrentRuns', 'maxRegistryBytes'] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/** The limits of an organization (no `project`) or of one of its projects, replaced as a whole. */
export interface QuotaSet {
  org: string;
  project?: string;
  limits: QuotaValues;
}

export type QuotaEvent = { type: 'QuotaSet'; data: QuotaSet };

/** Stream `quota-<org>` (the organization's limits) or `quota-<org>:<project>`. */
export function quotaStreamId(org: string, project?: string): string {
  return project ? `quota-${org}:${project}` : `quota-${org}`;
}
