import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { UnavailableError } from '@co/common';
import type { Database } from '@co/eventstore';
import type { LogarithmSettings } from '../logarithm-settings';
import type { LogMasker } from '../masking/log-masker';
import { decodeFrame, encodeFrame } from './frame-codec';
import { limitText, type IncomingLogLine, type LogLabels, type StoredLogLine } from './log-line';
import { addPositionInPlace, hasPosition, parseRanges, type Ranges } from './origin-ranges';

/** A frame's index row, as queries select it. */
export interface FrameRow {
  segment_id: string;
  file: string;
  byte_offset: number | string;
  byte_length: number | string;
  min_ts_ms: number | string;
  max_ts_ms: number | string;
  first_seq: number | string;
  last_seq: number | string;
}

/** What one segment holds, as retention reports it. */
export interface SegmentRow {
  id: string;
  org: string;
  project: string;
  run: string | null;
  file: string;
  size_bytes: number | string;
  line_count: number | string;
}

interface Segment {
  id: string;
  keyHash: string;
  file: string;
  org: string;
  project: string;
  run?: string;
  source?: string;
  hourStart?: number;
  /** Bytes covered by committed frames: everything past this was never acknowledged. */
  size: number;
  lines: number;
  frames: number;
  minTsMs: number;
  maxTsMs: number;
  firstSeq: number;
  lastSeq: number;
  createdMs: number;
  /** False until the commit that created it is in the database. */
  persisted: boolean;
}

interface Batch {
  lines: IncomingLogLine[];
  resolve(lines: StoredLogLine[]): void;
  reject(error: unknown): void;
}

/** A replayable log's stored positions, as one commit reads and extends them. */
interface TouchedOrigin {
  hash: string;
  ranges: Ranges;
  run?: string;
  /** A line of it is stored by this commit: its row is written. */
  changed: boolean;
}

interface PendingFrame {
  segment: Segment;
  task?: string;
  source?: string;
  lines: StoredLogLine[];
  bytes?: Buffer;
  offset?: number;
}

/** Segment files kept open at once; the least recently written are closed first. */
const OPEN_FILES = 128;
/** Segment states kept in memory; others are read back from the index when written again. */
const CACHED_SEGMENTS = 20_000;
/**
 * Lines one commit takes (more only when a single batch is larger). Bounds how long a
 * commit runs, hence how long a line waits before it is acknowledged and tailed, while
 * keeping thousands of lines per fsync and transaction.
 */
const COMMIT_LINES = 5000;
/** Batches this small always join the next commit (see nextCommit). */
const SMALL_BATCH_LINES = 100;
/**
 * Lines per frame at most: a commit's lines of one task are cut into several frames, so
 * that they compress on several threads and a reader inflates less to reach a line.
 */
const FRAME_LINES = 2000;
/** Frame rows per INSERT statement. */
const FRAME_ROWS_PER_INSERT = 400;
/** Frames read per index query while scanning in order. */
const FRAME_PAGE = 200;

const HOUR_MS = 3_600_000;

/**
 * Append-only log storage: segment files of gzip frames on disk, indexed in the service
 * database. One writer (this object, one per storage folder) takes every batch handed to
 * `append` while the previous commit runs, and commits them together (group commit):
 * frames are written and fsynced, their index rows inserted in one transaction, and only
 * then are the batches' promises resolved. At start, a file longer than its indexed
 * frames is cut back to the last indexed byte (a frame written but never indexed was
 * never acknowledged) and files the index does not know are removed.
 */
export class LogStore {
  private readonly pending: Batch[] = [];
  private readonly listeners = new Set<(lines: StoredLogLine[]) => void>();
  private readonly segments = new Map<string, Segment>();
  private readonly handles = new Map<string, FileHandle>();
  private readonly origins = new Map<string, Ranges>();
  private readonly owners = new Map<string, { org: string; project: string }>();
  private ownersGeneration = 0;
  /** Serializes commits with maintenance (retention): one at a time. */
  private turn: Promise<unknown> = Promise.resolve();
  private draining = false;
  /** The last commit took only small batches (see nextCommit). */
  private expressLast = false;
  private closed = false;
  private lastSeq = 0;
  /** Counters for metrics and the benchmark. */
  readonly stats = { commits: 0, lines: 0, bytes: 0 };

  constructor(
    private readonly db: Database,
    private readonly settings: Pick<LogarithmSettings, 'storageDir' | 'maxLineBytes' | 'compressionLevel'>,
    private readonly masker: Pick<LogMasker, 'mask'>,
    private readonly logger: Logger,
  ) {}

  /** Repairs the files against the index (see the class comment) and learns the last sequence number. */
  async initialize(): Promise<void> {
    await mkdir(this.segmentsDir, { recursive: true });
    const rows = await this.db.query<{ id: string; file: string; size_bytes: number | string }[]>('SELECT id, file, size_bytes FROM logarithm_segments');
    const known = new Set<string>();
    let repaired = 0;
    for (const row of rows) {
      known.add(path.normalize(row.file));
      const indexed = Number(row.size_bytes);
      const file = this.pathOf(row.file);
      const size = await stat(file).then(
        (info) => info.size,
        () => -1,
      );
      if (size > indexed) {
        await truncate(file, indexed);
        repaired += 1;
        this.logger.warn({ segment: row.id, indexedBytes: indexed, fileBytes: size }, 'cut an unacknowledged tail off a log segment');
      } else if (size < indexed) {
        this.logger.error({ segment: row.id, indexedBytes: indexed, fileBytes: size }, 'a log segment is shorter than its index: lines were lost outside logarithm');
      }
    }
    for (const file of await this.listFiles()) {
      if (known.has(file)) continue;
      await rm(this.pathOf(file), { force: true });
      repaired += 1;
      this.logger.warn({ file }, 'removed a log segment the index does not know (its first commit never finished)');
    }
    const [counter] = await this.db.query<{ value: number | string }[]>("SELECT value FROM logarithm_counters WHERE name = 'seq'");
    this.lastSeq = Number(counter?.value ?? 0);
    this.logger.info({ segments: rows.length, repaired, lastSeq: this.lastSeq }, 'log storage ready');
  }

  /** Masks (LogMasker), truncates, assigns seq, writes durably; resolves when acknowledged. */
  append(lines: IncomingLogLine[]): Promise<StoredLogLine[]> {
    if (this.closed) return Promise.reject(storageClosed());
    if (!lines.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ lines, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Batches handed over in the same tick join this commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Called after every commit with the committed lines in seq order (same process). */
  onCommitted(listener: (lines: StoredLogLine[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A run's lines with seq > afterSeq in seq order (task optional: `<stage>.<action>`). */
  async readRunBySeq(org: string, run: string, options: { task?: string; afterSeq?: string; limit: number }): Promise<StoredLogLine[]> {
    const limit = Math.max(0, Math.floor(options.limit));
    if (!limit) return [];
    const after = Number(options.afterSeq ?? 0);
    const conditions = ['f.org = ?', 'f.run = ?', 'f.last_seq > ?'];
    const parameters: unknown[] = [org, run, after];
    if (options.task !== undefined) {
      conditions.push('f.task = ?');
      parameters.push(options.task);
    }
    const found: StoredLogLine[] = [];
    let cursor = -1;
    for (;;) {
      const frames = await this.db.query<FrameRow[]>(
        `SELECT f.segment_id, s.file, f.byte_offset, f.byte_length, f.min_ts_ms, f.max_ts_ms, f.first_seq, f.last_seq
         FROM logarithm_frames f JOIN logarithm_segments s ON s.id = f.segment_id
         WHERE ${conditions.join(' AND ')} AND f.first_seq > ? ORDER BY f.first_seq LIMIT ${FRAME_PAGE}`,
        [...parameters, cursor],
      );
      for (const frame of frames) {
        // Frames of one commit interleave their numbers: stop only when this frame starts past the limit-th line.
        if (found.length >= limit && Number(frame.first_seq) > Number(found[limit - 1].seq)) return found.slice(0, limit);
        for (const line of await this.readFrame(frame)) {
          if (Number(line.seq) > after && (options.task === undefined || line.labels.task === options.task)) found.push(line);
        }
        found.sort((a, b) => Number(a.seq) - Number(b.seq));
        cursor = Number(frame.first_seq);
      }
      if (frames.length < FRAME_PAGE) return found.slice(0, limit);
    }
  }

  /**
   * The run's org/project (null when no line of it is stored) — used to authorize reads
   * and pushes. Remembered once found: a run's first segment stays its first until
   * retention deletes it, which forgets what was remembered.
   */
  async runOwner(run: string): Promise<{ org: string; project: string } | null> {
    const known = this.owners.get(run);
    if (known) return { ...known };
    const generation = this.ownersGeneration;
    const [row] = await this.db.query<{ org: string; project: string }[]>('SELECT org, project FROM logarithm_segments WHERE run = ? ORDER BY created_ms LIMIT 1', [run]);
    if (!row) return null;
    const owner = { org: row.org, project: row.project };
    // Not when retention deleted segments meanwhile: the row read may be gone.
    if (generation === this.ownersGeneration) this.owners.set(run, owner);
    if (this.owners.size > CACHED_SEGMENTS) this.owners.delete(this.owners.keys().next().value as string);
    return { ...owner };
  }

  /** The lines of one frame, as its index row locates them. */
  async readFrame(frame: Pick<FrameRow, 'file' | 'byte_offset' | 'byte_length'>): Promise<StoredLogLine[]> {
    const length = Number(frame.byte_length);
    const buffer = Buffer.allocUnsafe(length);
    const handle = await open(this.pathOf(frame.file), 'r');
    try {
      const { bytesRead } = await handle.read(buffer, 0, length, Number(frame.byte_offset));
      if (bytesRead !== length) throw new Error(`segment ${frame.file} ends before its indexed frame at ${frame.byte_offset}`);
    } finally {
      await handle.close();
    }
    return decodeFrame(buffer);
  }

  /**
   * Runs `work` between commits: nothing is written while it runs (retention deletes
   * segment files this way without racing a commit that appends to them).
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work, work);
    this.turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Deletes segments and their index rows (inside `exclusive`). The rows go first: a
   * crash before the files are removed leaves files the index does not know, which the
   * next start removes.
   */
  async deleteSegments(segments: SegmentRow[]): Promise<void> {
    if (!segments.length) return;
    const ids = segments.map((segment) => segment.id);
    const runs = [...new Set(segments.map((segment) => segment.run).filter((run): run is string => !!run))];
    for (let i = 0; i < ids.length; i += FRAME_ROWS_PER_INSERT) {
      const chunk = ids.slice(i, i + FRAME_ROWS_PER_INSERT);
      const marks = chunk.map(() => '?').join(', ');
      await this.db.transaction(async (manager) => {
        await manager.query(`DELETE FROM logarithm_frames WHERE segment_id IN (${marks})`, chunk);
        await manager.query(`DELETE FROM logarithm_segments WHERE id IN (${marks})`, chunk);
      });
    }
    // A run whose segment is gone keeps no replay positions (its lines are gone too).
    for (const run of runs) {
      const [left] = await this.db.query<unknown[]>('SELECT 1 FROM logarithm_segments WHERE run = ? LIMIT 1', [run]);
      if (!left) await this.db.query('DELETE FROM logarithm_origins WHERE run = ?', [run]);
    }
    this.origins.clear();
    this.owners.clear();
    this.ownersGeneration += 1;
    for (const segment of segments) {
      for (const [key, cached] of this.segments) if (cached.id === segment.id) this.segments.delete(key);
      const handle = this.handles.get(segment.id);
      this.handles.delete(segment.id);
      await handle?.close().catch(() => undefined);
      await rm(this.pathOf(segment.file), { force: true });
    }
  }

  /** Finishes the commits under way, refuses new appends and closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining || this.pending.length) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.turn;
    for (const handle of this.handles.values()) await handle.close().catch(() => undefined);
    this.handles.clear();
  }

  private get segmentsDir(): string {
    return path.join(this.settings.storageDir, 'segments');
  }

  private pathOf(file: string): string {
    return path.join(this.segmentsDir, file);
  }

  private async listFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const shard of await readdir(this.segmentsDir).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(this.segmentsDir, shard)).catch(() => [] as string[])) files.push(path.join(shard, name));
    }
    return files;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batches = this.nextCommit();
        await this.exclusive(() => this.commit(batches)).catch((error: unknown) => {
          this.logger.error({ err: error, batches: batches.length }, 'log lines could not be stored');
          const failure = error instanceof UnavailableError ? error : storageFailed();
          for (const batch of batches) batch.reject(failure);
        });
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * The batches of the next commit. Small batches (a live task's few lines) waiting
   * behind bulk ones are committed first, alone, in a commit that costs a few
   * milliseconds, so that live lines wait for at most one bulk commit; never twice in a
   * row, so that bulk batches are not starved by a stream of small ones. Otherwise the
   * waiting batches in arrival order up to COMMIT_LINES lines (at least one batch,
   * however large), small ones always joining.
   */
  private nextCommit(): Batch[] {
    const small = this.pending.filter((batch) => batch.lines.length <= SMALL_BATCH_LINES);
    if (!this.expressLast && small.length && small.length < this.pending.length) {
      this.expressLast = true;
      this.pending.splice(0, this.pending.length, ...this.pending.filter((batch) => batch.lines.length > SMALL_BATCH_LINES));
      return small;
    }
    this.expressLast = false;
    const taken: Batch[] = [];
    const left: Batch[] = [];
    let lines = 0;
    for (const batch of this.pending) {
      const size = batch.lines.length;
      if (!taken.length || size <= SMALL_BATCH_LINES || lines + size <= COMMIT_LINES) {
        taken.push(batch);
        lines += size;
      } else {
        left.push(batch);
      }
    }
    this.pending.splice(0, this.pending.length, ...left);
    return taken;
  }

  private async commit(batches: Batch[]): Promise<void> {
    const touchedOrigins = await this.loadOrigins(batches);
    // Replays are dropped first, so that no segment is looked up for lines not kept.
    const kept: IncomingLogLine[][] = [];
    const segmentKeys = new Map<LogLabels, string>();
    const neededKeys = new Map<string, IncomingLogLine>();
    for (const batch of batches) {
      const lines: IncomingLogLine[] = [];
      for (const incoming of batch.lines) {
        if (incoming.origin) {
          const known = touchedOrigins.get(incoming.origin.key)!;
          if (hasPosition(known.ranges, incoming.origin.position)) continue;
          addPositionInPlace(known.ranges, incoming.origin.position);
          known.changed = true;
        }
        lines.push(incoming);
        const key = segmentKeyOf(incoming, segmentKeys);
        if (!neededKeys.has(key)) neededKeys.set(key, incoming);
      }
      kept.push(lines);
    }
    const segments = new Map<string, Segment>();
    for (const [key, line] of neededKeys) segments.set(key, await this.segmentFor(key, line));

    const frames = new Map<string, PendingFrame>();
    // Lines of one stream share one labels object (every ingest path builds one per stream).
    const framesByLabels = new Map<LogLabels, PendingFrame>();
    const results: StoredLogLine[][] = [];
    const firstSeq = this.lastSeq + 1;
    let seq = this.lastSeq;
    for (const lines of kept) {
      const stored: StoredLogLine[] = [];
      for (const incoming of lines) {
        const labels = incoming.labels;
        const masked = this.masker.mask(labels.org, labels.run, incoming.text);
        const limited = limitText(masked, this.settings.maxLineBytes);
        seq += 1;
        const line: StoredLogLine = { seq: String(seq), ts: incoming.ts.toString(), labels, text: limited.text };
        if (limited.truncated) line.truncated = true;
        stored.push(line);
        let frame = labels.run !== undefined ? framesByLabels.get(labels) : undefined;
        if (!frame) {
          const segment = segments.get(segmentKeyOf(incoming, segmentKeys))!;
          const frameKey = `${segment.keyHash}\u0000${labels.task ?? ''}\u0000${labels.source ?? ''}`;
          frame = frames.get(frameKey);
          if (!frame) {
            frame = { segment, task: labels.task, source: labels.source, lines: [] };
            frames.set(frameKey, frame);
          }
          if (labels.run !== undefined) framesByLabels.set(labels, frame);
        }
        frame.lines.push(line);
      }
      results.push(stored);
    }
    if (!frames.size) {
      if (touchedOrigins.size) this.logger.debug({ origins: touchedOrigins.size }, 'replayed lines were stored already');
      batches.forEach((batch, index) => batch.resolve(results[index]));
      return;
    }

    const level = this.settings.compressionLevel;
    // Cut into frames of at most FRAME_LINES lines: compressed in parallel by libuv's threads.
    const parts = [...frames.values()].flatMap(splitFrame);
    await Promise.all(parts.map(async (frame) => (frame.bytes = await encodeFrame(frame.lines, level))));

    // Each segment's frames go to its file in one write, at its indexed end.
    const bySegment = new Map<Segment, PendingFrame[]>();
    for (const frame of parts) {
      const list = bySegment.get(frame.segment) ?? [];
      list.push(frame);
      bySegment.set(frame.segment, list);
    }
    const written: { segment: Segment; handle: FileHandle; size: number }[] = [];
    let bytes = 0;
    try {
      const handles = new Map<Segment, FileHandle>();
      for (const segment of bySegment.keys()) handles.set(segment, await this.handleOf(segment));
      await Promise.all(
        [...bySegment].map(async ([segment, list]) => {
          const handle = handles.get(segment)!;
          written.push({ segment, handle, size: segment.size });
          let offset = segment.size;
          for (const frame of list) {
            frame.offset = offset;
            offset += frame.bytes!.length;
          }
          const chunk = list.length === 1 ? list[0].bytes! : Buffer.concat(list.map((frame) => frame.bytes!));
          bytes += chunk.length;
          await handle.write(chunk, 0, chunk.length, segment.size);
          await handle.sync();
        }),
      );
      if ([...bySegment.keys()].some((segment) => !segment.persisted)) await syncDirectories(this.segmentsDir, [...bySegment.keys()].filter((s) => !s.persisted).map((s) => s.file));
      await this.index(bySegment, touchedOrigins, seq);
    } catch (error) {
      // Nothing of this commit was acknowledged: cut the files back to their indexed ends.
      for (const { segment, handle, size } of written) {
        await handle.truncate(size).catch(() => undefined);
        if (!segment.persisted) this.forget(segment);
      }
      await this.trimHandles();
      throw error;
    }

    for (const [segment, list] of bySegment) {
      for (const frame of list) {
        segment.size += frame.bytes!.length;
        segment.lines += frame.lines.length;
        segment.frames += 1;
      }
      segment.persisted = true;
    }
    await this.trimHandles();
    for (const { hash, ranges, changed } of touchedOrigins.values()) if (changed) this.rememberOrigin(hash, ranges);
    this.lastSeq = seq;
    this.stats.commits += 1;
    this.stats.lines += seq - firstSeq + 1;
    this.stats.bytes += bytes;
    batches.forEach((batch, index) => batch.resolve(results[index]));
    const committed = results.flat();
    for (const listener of this.listeners) {
      try {
        listener(committed);
      } catch (error) {
        this.logger.error({ err: error }, 'a listener of committed log lines failed');
      }
    }
  }

  /** The index rows of one commit, in one transaction. */
  private async index(bySegment: Map<Segment, PendingFrame[]>, origins: Map<string, TouchedOrigin>, lastSeq: number): Promise<void> {
    const now = Date.now();
    const frameRows: unknown[][] = [];
    const segmentUpdates: { segment: Segment; values: Segment }[] = [];
    for (const [segment, list] of bySegment) {
      const next = { ...segment };
      for (const frame of list) {
        let minTs = Infinity;
        let maxTs = -Infinity;
        for (const line of frame.lines) {
          const ms = millisOf(line.ts);
          if (ms < minTs) minTs = ms;
          if (ms > maxTs) maxTs = ms;
        }
        const first = Number(frame.lines[0].seq);
        const last = Number(frame.lines[frame.lines.length - 1].seq);
        frameRows.push([
          segment.id,
          frame.offset,
          frame.bytes!.length,
          segment.org,
          segment.project,
          `${segment.org}/${segment.project}`,
          segment.run ?? null,
          frame.task ?? null,
          frame.source ?? null,
          frame.lines.length,
          minTs,
          maxTs,
          first,
          last,
        ]);
        next.size += frame.bytes!.length;
        next.lines += frame.lines.length;
        next.frames += 1;
        next.minTsMs = Math.min(next.minTsMs, minTs);
        next.maxTsMs = Math.max(next.maxTsMs, maxTs);
        next.firstSeq = next.firstSeq ? Math.min(next.firstSeq, first) : first;
        next.lastSeq = Math.max(next.lastSeq, last);
      }
      segmentUpdates.push({ segment, values: next });
    }
    await this.db.transaction(async (manager) => {
      // New and grown segments in one statement: this writer is the only one changing
      // the rows (retention deletes them between commits), so its state is the row's.
      for (let i = 0; i < segmentUpdates.length; i += FRAME_ROWS_PER_INSERT) {
        const chunk = segmentUpdates.slice(i, i + FRAME_ROWS_PER_INSERT);
        await manager.query(
          `REPLACE INTO logarithm_segments (id, key_hash, org, project, run, source, hour_start, file, size_bytes, line_count, frame_count, min_ts_ms, max_ts_ms, first_seq, last_seq, created_ms, last_write_ms)
           VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          chunk.flatMap(({ values: s }) => [
            s.id, s.keyHash, s.org, s.project, s.run ?? null, s.source ?? null, s.hourStart ?? null, s.file,
            s.size, s.lines, s.frames, s.minTsMs, s.maxTsMs, s.firstSeq, s.lastSeq, s.createdMs, now,
          ]),
        );
      }
      for (let i = 0; i < frameRows.length; i += FRAME_ROWS_PER_INSERT) {
        const chunk = frameRows.slice(i, i + FRAME_ROWS_PER_INSERT);
        await manager.query(
          `INSERT INTO logarithm_frames (segment_id, byte_offset, byte_length, org, project, place, run, task, source, line_count, min_ts_ms, max_ts_ms, first_seq, last_seq)
           VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          chunk.flat(),
        );
      }
      const changed = [...origins.values()].filter((origin) => origin.changed);
      for (let i = 0; i < changed.length; i += FRAME_ROWS_PER_INSERT) {
        const chunk = changed.slice(i, i + FRAME_ROWS_PER_INSERT);
        await manager.query(
          `REPLACE INTO logarithm_origins (key_hash, run, ranges) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
          chunk.flatMap(({ hash, ranges, run }) => [hash, run ?? null, JSON.stringify(ranges)]),
        );
      }
      await manager.query("REPLACE INTO logarithm_counters (name, value) VALUES ('seq', ?)", [lastSeq]);
    });
    for (const { segment, values } of segmentUpdates) {
      segment.minTsMs = values.minTsMs;
      segment.maxTsMs = values.maxTsMs;
      segment.firstSeq = values.firstSeq;
      segment.lastSeq = values.lastSeq;
    }
  }

  /** The segment of `line`, whose key is `key` (segmentKeyOf): from memory, else from the index, else a new one. */
  private async segmentFor(key: string, line: IncomingLogLine): Promise<Segment> {
    const cached = this.segments.get(key);
    if (cached) {
      // Most recently used last: the oldest entries are evicted first.
      this.segments.delete(key);
      this.segments.set(key, cached);
      return cached;
    }
    const { org, project, run, source } = line.labels;
    const hourStart = run ? undefined : hourOf(line.ts);
    const keyHash = sha256(key);
    const [row] = await this.db.query<
      {
        id: string; file: string; org: string; project: string; run: string | null; source: string | null; hour_start: number | string | null;
        size_bytes: number | string; line_count: number | string; frame_count: number | string; min_ts_ms: number | string; max_ts_ms: number | string;
        first_seq: number | string; last_seq: number | string; created_ms: number | string;
      }[]
    >('SELECT * FROM logarithm_segments WHERE key_hash = ?', [keyHash]);
    const id = row?.id ?? randomBytes(12).toString('hex');
    const segment: Segment = row
      ? {
          id,
          keyHash,
          file: row.file,
          org: row.org,
          project: row.project,
          run: row.run ?? undefined,
          source: row.source ?? undefined,
          hourStart: row.hour_start === null ? undefined : Number(row.hour_start),
          size: Number(row.size_bytes),
          lines: Number(row.line_count),
          frames: Number(row.frame_count),
          minTsMs: Number(row.min_ts_ms),
          maxTsMs: Number(row.max_ts_ms),
          firstSeq: Number(row.first_seq),
          lastSeq: Number(row.last_seq),
          createdMs: Number(row.created_ms),
          persisted: true,
        }
      : {
          id,
          keyHash,
          file: path.join(id.slice(0, 2), `${id}.log.gz`),
          org,
          project,
          run,
          source: run ? undefined : source,
          hourStart,
          size: 0,
          lines: 0,
          frames: 0,
          minTsMs: Number.MAX_SAFE_INTEGER,
          maxTsMs: Number.MIN_SAFE_INTEGER,
          firstSeq: 0,
          lastSeq: 0,
          createdMs: Date.now(),
          persisted: false,
        };
    this.segments.set(key, segment);
    if (this.segments.size > CACHED_SEGMENTS) {
      const oldest = this.segments.keys().next().value as string;
      // A segment created by the commit under way stays: its row does not exist yet.
      if (this.segments.get(oldest)!.persisted) this.segments.delete(oldest);
    }
    return segment;
  }

  private forget(segment: Segment): void {
    for (const [key, cached] of this.segments) if (cached === segment) this.segments.delete(key);
    const handle = this.handles.get(segment.id);
    this.handles.delete(segment.id);
    void handle?.close().catch(() => undefined).then(() => rm(this.pathOf(segment.file), { force: true }));
  }

  private async handleOf(segment: Segment): Promise<FileHandle> {
    const open_ = this.handles.get(segment.id);
    if (open_) {
      this.handles.delete(segment.id);
      this.handles.set(segment.id, open_);
      return open_;
    }
    const file = this.pathOf(segment.file);
    await mkdir(path.dirname(file), { recursive: true });
    // Not O_APPEND: every write names its offset (the indexed end), so a failed commit's bytes are overwritten.
    const handle = await open(file, segment.persisted ? 'r+' : 'w+');
    this.handles.set(segment.id, handle);
    return handle;
  }

  /** Closes the least recently written files beyond OPEN_FILES (between commits, when no write uses them). */
  private async trimHandles(): Promise<void> {
    while (this.handles.size > OPEN_FILES) {
      const [oldestId, oldest] = this.handles.entries().next().value as [string, FileHandle];
      this.handles.delete(oldestId);
      await oldest.close().catch(() => undefined);
    }
  }

  /**
   * The stored positions of every replayable log the batches name, as copies this commit
   * may change: from memory, the others in one query per ORIGIN_ROWS_PER_SELECT.
   */
  private async loadOrigins(batches: Batch[]): Promise<Map<string, TouchedOrigin>> {
    const touched = new Map<string, TouchedOrigin>();
    const missing = new Map<string, TouchedOrigin>();
    for (const batch of batches) {
      for (const line of batch.lines) {
        if (!line.origin || touched.has(line.origin.key)) continue;
        const hash = sha256(line.origin.key);
        const cached = this.origins.get(hash);
        const origin: TouchedOrigin = { hash, ranges: cached ? cached.map(([from, to]) => [from, to]) : [], run: line.labels.run, changed: false };
        touched.set(line.origin.key, origin);
        if (!cached) missing.set(hash, origin);
      }
    }
    const hashes = [...missing.keys()];
    for (let i = 0; i < hashes.length; i += FRAME_ROWS_PER_INSERT) {
      const chunk = hashes.slice(i, i + FRAME_ROWS_PER_INSERT);
      const rows = await this.db.query<{ key_hash: string; ranges: string }[]>(
        `SELECT key_hash, ranges FROM logarithm_origins WHERE key_hash IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
      for (const row of rows) missing.get(row.key_hash)!.ranges = parseRanges(row.ranges);
    }
    return touched;
  }

  private rememberOrigin(hash: string, ranges: Ranges): void {
    this.origins.delete(hash);
    this.origins.set(hash, ranges);
    if (this.origins.size > CACHED_SEGMENTS) this.origins.delete(this.origins.keys().next().value as string);
  }
}

/**
 * Which segment a line belongs to: its run's (per organization), or, without a run, its
 * organization's, project's and source's for the UTC hour of its timestamp. Run keys are
 * remembered per labels object (`memo`, one per commit): a stream's lines share one.
 */
function segmentKeyOf(line: IncomingLogLine, memo: Map<LogLabels, string>): string {
  const labels = line.labels;
  const { org, project, run, source } = labels;
  if (!run) return `hour\u0000${org}\u0000${project}\u0000${source ?? ''}\u0000${hourOf(line.ts)}`;
  let key = memo.get(labels);
  if (key === undefined) {
    key = `run\u0000${org}\u0000${run}`;
    memo.set(labels, key);
  }
  return key;
}

function hourOf(ts: bigint): number {
  return Math.floor(Number(ts / 1_000_000n) / HOUR_MS) * HOUR_MS;
}

function splitFrame(frame: PendingFrame): PendingFrame[] {
  if (frame.lines.length <= FRAME_LINES) return [frame];
  const parts: PendingFrame[] = [];
  for (let i = 0; i < frame.lines.length; i += FRAME_LINES) parts.push({ ...frame, lines: frame.lines.slice(i, i + FRAME_LINES) });
  return parts;
}

/** Unix milliseconds (rounded down) of decimal unix nanoseconds. */
function millisOf(ts: string): number {
  return ts.length > 6 ? Number(ts.slice(0, -6)) : 0;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** fsyncs the folders of new files, so that the files themselves survive a power loss. */
async function syncDirectories(root: string, files: string[]): Promise<void> {
  const folders = new Set(files.map((file) => path.join(root, path.dirname(file))));
  folders.add(root);
  for (const folder of folders) {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function storageClosed(): UnavailableError {
  return new UnavailableError('LOGS.STORAGE_CLOSED', 'logarithm is stopping and takes no more lines; send them again to another instance or after it restarts.');
}

function storageFailed(): UnavailableError {
  return new UnavailableError('LOGS.STORAGE_FAILED', 'The lines could not be stored durably; nothing of them was kept. Send them again.');
}
