/**
 * A garbage collection (not a dry run) finished. Published on
 * `<prefix>.dockyard.gc.GarbageCollected`.
 */
export interface GarbageCollected {
  id: string;
  trigger: 'manual' | 'schedule';
  /** Username of the administrator who asked, or `schedule`. */
  startedBy: string;
  blobsScanned: number;
  blobsDeleted: number;
  bytesFreed: number;
  uploadsDeleted: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/** One stream of collections per day (UTC): `gc-20260301`. */
export function gcStream(at: Date): string {
  return `gc-${at.toISOString().slice(0, 10).replace(/-/g, '')}`;
}
