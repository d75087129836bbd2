import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConflictError } from '@co/common';
import { NamedLock, sqlTime } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { marks } from '../registry/registry-sql';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { gcStream, type GarbageCollected } from './gc.events';

/** Digests checked again in one query, just before they are deleted. */
const RECHECK_BATCH = 200;
/** Blobs a report lists by digest (the counts are always complete). */
export const MAX_LISTED_BLOBS = 1000;
/** Reports kept in the database. */
export const KEPT_REPORTS = 100;

export type GcTrigger = GarbageCollected['trigger'];

/** A collection's report: what the `GarbageCollected` event says, and whether it was a dry run. */
export interface GcReport extends GarbageCollected {
  dryRun: boolean;
}

export interface GcRunResult extends GcReport {
  /** The blobs removed (or that a dry run would remove), the first MAX_LISTED_BLOBS of them. */
  blobs: { digest: string; size: number }[];
}

/** Thrown inside a deletion's transaction to roll it back. */
class StillReferenced extends Error {}

/**
 * Where live metadata names a blob: these digests are marked, everything else in the
 * BlobStore is garbage once older than the grace window.
 */
const REFERENCES: { table: string; column: string }[] = [
  { table: 'dockyard_manifests', column: 'digest' },
  { table: 'dockyard_manifest_blobs', column: 'blob_digest' },
  { table: 'dockyard_charts', column: 'digest' },
  { table: 'dockyard_charts', column: 'prov_digest' },
  { table: 'dockyard_binaries', column: 'digest' },
];

/**
 * Online mark and sweep of the BlobStore. Mark: every digest live metadata references
 * (manifests' own bytes, their configs and layers, charts and provenance files, binary
 * artifacts). Sweep: every stored blob that is not marked and was last written (or
 * touched by a push that found it) before the grace window is deleted with its rows in
 * `dockyard_blobs` / `dockyard_repository_blobs`, after checking once more, right
 * before, that nothing references it now. Uploads untouched for `uploadExpiryHours`
 * are removed too. One collection at a time across replicas (a MySQL named lock).
 */
@Injectable()
export class GcService {
  private readonly logger = new Logger('GarbageCollection');
  private running = false;
  private readonly lock: NamedLock;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
  ) {
    this.lock = new NamedLock(runtime.db, 'dockyard-gc');
  }

  private get db() {
    return this.runtime.db;
  }

  /** Runs one collection; 409 GC.RUNNING when one is under way here or on another replica. */
  async run(options: { dryRun: boolean; trigger: GcTrigger; startedBy: string }): Promise<GcRunResult> {
    if (this.running) throw running();
    this.running = true;
    try {
      if (this.db.dialect === 'mysql' && !(await this.lock.tryAcquire())) throw running();
      try {
        return await this.collect(options);
      } finally {
        if (this.db.dialect === 'mysql') await this.lock.release();
      }
    } finally {
      this.running = false;
    }
  }

  /** The latest reports, newest first. */
  async reports(limit = 20): Promise<GcReport[]> {
    const rows = await this.db.query<GcRow[]>(
      `SELECT id, dry_run, trigger_kind, started_by, blobs_scanned, blobs_deleted, bytes_freed, uploads_deleted, started_at, finished_at, duration_ms
       FROM dockyard_gc_runs ORDER BY started_at DESC, finished_at DESC, id DESC LIMIT ?`,
      [limit],
    );
    return rows.map(toReport);
  }

  private async collect(options: { dryRun: boolean; trigger: GcTrigger; startedBy: string }): Promise<GcRunResult> {
    const started = new Date();
    const graceCutoff = started.getTime() - this.settings.gcGraceMinutes * 60_000;
    const uploadCutoff = started.getTime() - this.settings.uploadExpiryHours * 3_600_000;

    const marked = await this.mark();
    let blobsScanned = 0;
    let blobsDeleted = 0;
    let bytesFreed = 0;
    const listed: { digest: string; size: number }[] = [];
    let batch: { digest: string; size: number }[] = [];
    const sweep = async () => {
      const candidates = batch;
      batch = [];
      const referenced = await this.referenced(candidates.map((blob) => blob.digest));
      for (const blob of candidates) {
        if (referenced.has(blob.digest)) continue;
        if (!options.dryRun && !(await this.deleteBlob(blob.digest))) continue;
        blobsDeleted += 1;
        bytesFreed += blob.size;
        if (listed.length < MAX_LISTED_BLOBS) listed.push(blob);
      }
    };
    for await (const blob of this.store.list()) {
      blobsScanned += 1;
      if (marked.has(blob.digest) || blob.modifiedAt.getTime() > graceCutoff) continue;
      batch.push({ digest: blob.digest, size: blob.size });
      if (batch.length >= RECHECK_BATCH) await sweep();
    }
    if (batch.length) await sweep();

    const uploadsDeleted = await this.sweepUploads(uploadCutoff, options.dryRun);
    const finished = new Date();
    const report: GcReport = {
      id: randomUUID(),
      dryRun: options.dryRun,
      trigger: options.trigger,
      startedBy: options.startedBy,
      blobsScanned,
      blobsDeleted,
      bytesFreed,
      uploadsDeleted,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
    };
    await this.record(report);
    this.logger.log(
      `${report.dryRun ? 'dry run: would delete' : 'deleted'} ${blobsDeleted} of ${blobsScanned} blobs (${bytesFreed} bytes) and ${uploadsDeleted} abandoned uploads in ${report.durationMs} ms`,
    );
    return { ...report, blobs: listed };
  }

  /** Every digest live metadata references now. */
  private async mark(): Promise<Set<string>> {
    const marked = new Set<string>();
    for (const { table, column } of REFERENCES) {
      const rows = await this.db.query<{ digest: string }[]>(`SELECT DISTINCT ${column} AS digest FROM ${table} WHERE ${column} IS NOT NULL`);
      for (const row of rows) marked.add(row.digest);
    }
    return marked;
  }

  /** Which of `digests` live metadata references at this moment (a push may have referenced one since the mark). */
  private async referenced(digests: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (!digests.length) return found;
    for (const { table, column } of REFERENCES) {
      const rows = await this.db.query<{ digest: string }[]>(`SELECT DISTINCT ${column} AS digest FROM ${table} WHERE ${column} IN (${marks(digests.length)})`, digests);
      for (const row of rows) found.add(row.digest);
    }
    return found;
  }

  /**
   * The rows first, then the bytes: a client that asks for the blob meanwhile is told
   * it is unknown and uploads it again, rather than finding a link to nothing.
   */
  private async deleteBlob(digest: string): Promise<boolean> {
    // The rows go in one transaction that checks the references again after taking the
    // rows' locks: a manifest push that reads its blobs' links with a locking read either
    // committed before (its reference is seen here: nothing is deleted) or waits and then
    // finds the links gone (MANIFEST_BLOB_UNKNOWN: the client pushes the blob again).
    const unreferenced = await this.db.transaction(async (manager) => {
      await manager.query('DELETE FROM dockyard_repository_blobs WHERE digest = ?', [digest]);
      await manager.query('DELETE FROM dockyard_blobs WHERE digest = ?', [digest]);
      for (const { table, column } of REFERENCES) {
        const rows = await manager.query<unknown[]>(`SELECT 1 FROM ${table} WHERE ${column} = ? LIMIT 1`, [digest]);
        if (rows.length) throw new StillReferenced();
      }
      return true;
    }).catch((error: unknown) => {
      if (error instanceof StillReferenced) return false;
      throw error;
    });
    return unreferenced && this.store.delete(digest);
  }

  /** Uploads (files and rows) untouched since `cutoff`. */
  private async sweepUploads(cutoff: number, dryRun: boolean): Promise<number> {
    const removed = new Set<string>();
    for await (const upload of this.store.listUploads()) {
      if (upload.modifiedAt.getTime() > cutoff) continue;
      removed.add(upload.id);
      if (dryRun) continue;
      await this.store.abortUpload(upload.id);
      await this.db.query('DELETE FROM dockyard_uploads WHERE id = ?', [upload.id]);
    }
    // Rows whose file is gone (a crash between the two, or a storage wiped by hand).
    const stale = await this.db.query<{ id: string }[]>('SELECT id FROM dockyard_uploads WHERE updated_at < ?', [sqlTime(this.db, new Date(cutoff))]);
    for (const row of stale) {
      if (removed.has(row.id) || (await this.store.uploadSize(row.id)) !== undefined) continue;
      removed.add(row.id);
      if (!dryRun) await this.db.query('DELETE FROM dockyard_uploads WHERE id = ?', [row.id]);
    }
    return removed.size;
  }

  private async record(report: GcReport): Promise<void> {
    await this.db.query(
      `INSERT INTO dockyard_gc_runs (id, dry_run, trigger_kind, started_by, blobs_scanned, blobs_deleted, bytes_freed, uploads_deleted, started_at, finished_at, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        report.id,
        report.dryRun ? 1 : 0,
        report.trigger,
        report.startedBy,
        report.blobsScanned,
        report.blobsDeleted,
        report.bytesFreed,
        report.uploadsDeleted,
        sqlTime(this.db, new Date(report.startedAt)),
        sqlTime(this.db, new Date(report.finishedAt)),
        report.durationMs,
      ],
    );
    const [oldest] = await this.db.query<{ started_at: Date | string }[]>('SELECT started_at FROM dockyard_gc_runs ORDER BY started_at DESC LIMIT 1 OFFSET ?', [
      KEPT_REPORTS - 1,
    ]);
    if (oldest) await this.db.query('DELETE FROM dockyard_gc_runs WHERE started_at < ?', [oldest.started_at]);
    if (report.dryRun) return;
    const { dryRun: _dryRun, ...event } = report;
    await this.runtime.store.append(gcStream(new Date(report.startedAt)), 'any', [{ type: 'GarbageCollected', data: event satisfies GarbageCollected }], { actor: report.startedBy });
  }
}

interface GcRow {
  id: string;
  dry_run: number | boolean | string;
  trigger_kind: GcTrigger;
  started_by: string;
  blobs_scanned: number | string;
  blobs_deleted: number | string;
  bytes_freed: number | string;
  uploads_deleted: number | string;
  started_at: Date | string;
  finished_at: Date | string;
  duration_ms: number | string;
}

function toReport(row: GcRow): GcReport {
  return {
    id: row.id,
    dryRun: Number(row.dry_run) === 1 || row.dry_run === true,
    trigger: row.trigger_kind,
    startedBy: row.started_by,
    blobsScanned: Number(row.blobs_scanned),
    blobsDeleted: Number(row.blobs_deleted),
    bytesFreed: Number(row.bytes_freed),
    uploadsDeleted: Number(row.uploads_deleted),
    startedAt: new Date(row.started_at).toISOString(),
    finishedAt: new Date(row.finished_at).toISOString(),
    durationMs: Number(row.duration_ms),
  };
}

function running(): ConflictError {
  return new ConflictError('GC.RUNNING', 'A garbage collection is running already; wait for it to finish (GET /api/v1/gc lists the reports).');
}
