/**
 * A retention run removed segments. Published on `<prefix>.logarithm.retention.LogsExpired`
 * (one stream per UTC day, `retention-20260301`); a run that removes nothing publishes nothing.
 */
export interface LogsExpired {
  id: string;
  trigger: 'manual' | 'schedule';
  /** Username of the administrator who asked, or `schedule`. */
  startedBy: string;
  segments: number;
  lines: number;
  /** Compressed bytes freed on disk. */
  bytes: number;
  /** What each organization lost. */
  orgs: { org: string; days: number; segments: number; lines: number; bytes: number }[];
  startedAt: string;
  finishedAt: string;
}

export function retentionStream(at: Date): string {
  return `retention-${at.toISOString().slice(0, 10).replace(/-/g, '')}`;
}
