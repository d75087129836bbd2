import { Injectable } from '@nestjs/common';
import { Database } from '@co/eventstore';
import { lineView, type LogLineView, type StoredLogLine } from '../storage/log-line';
import { LogStore, type FrameRow } from '../storage/log-store';
import { decodeCursor, encodeCursor, MAX_SEQ, type Cursor } from './log-cursor';
import { lineMatches, type LogFilter, type PageRequest } from './log-filter';

export interface LogPage {
  lines: LogLineView[];
  /** Pass as `cursor` (same direction) for the next page; absent at the end. */
  next?: string;
}

/** Frames one query may inflate; past it, the page ends early with a `next` cursor (fewer lines, never wrong ones). */
export const FRAMES_PER_QUERY = 2000;
const FRAME_PAGE = 200;

interface Key {
  ts: bigint;
  seq: bigint;
}

/**
 * Reads lines in (ts, seq) order, forward or backward, from the frames the index says
 * may hold them. Frames overlap in time, so they are read in the order of their lower
 * (forward) or upper (backward) time bound, and reading stops once the next frame can
 * only hold lines after the page's last one.
 */
@Injectable()
export class LogQuery {
  /** FRAMES_PER_QUERY; lowered by tests to reach the budget with a few frames. */
  framesPerQuery = FRAMES_PER_QUERY;

  constructor(
    private readonly db: Database,
    private readonly store: LogStore,
  ) {}

  async page(filter: LogFilter, request: PageRequest, scope?: { sql: string; parameters: unknown[] }): Promise<LogPage> {
    const forward = request.direction === 'forward';
    const cursor = request.cursor ? decodeCursor(request.cursor, request.direction) : undefined;
    const conditions: string[] = [];
    const parameters: unknown[] = [];
    if (scope) {
      conditions.push(scope.sql);
      parameters.push(...scope.parameters);
    }
    for (const [column, value] of [
      ['f.org', filter.org],
      ['f.project', filter.project],
      ['f.run', filter.run],
      ['f.task', filter.task],
      ['f.source', filter.source],
    ] as const) {
      if (value === undefined) continue;
      conditions.push(`${column} = ?`);
      parameters.push(value);
    }
    const lowest = maxOf(filter.since, forward ? cursor?.ts : undefined);
    const highest = minOf(filter.until, forward ? undefined : cursor?.ts);
    if (lowest !== undefined) {
      conditions.push('f.max_ts_ms >= ?');
      parameters.push(Number(lowest / 1_000_000n));
    }
    if (highest !== undefined) {
      conditions.push('f.min_ts_ms <= ?');
      parameters.push(Number(highest / 1_000_000n));
    }
    const where = conditions.length ? conditions.join(' AND ') : '1 = 1';
    const after = (key: Key) => (cursor ? (forward ? compare(key, cursor) > 0 : compare(key, cursor) < 0) : true);
    const order = (a: Key, b: Key) => (forward ? compare(a, b) : compare(b, a));
    // Where this page starts: a `next` handed out must lie strictly past it, or paging would repeat itself.
    const start = cursor ?? startOf(filter, forward);
    const frontierCursor = (bound: bigint): Key => (forward ? { ts: bound - 1n, seq: MAX_SEQ } : { ts: bound + 1n, seq: 0n });

    const found: (Key & { line: StoredLogLine })[] = [];
    let scanned = 0;
    let keyset: [number, number] | undefined;
    let frontier: bigint | undefined;
    scan: for (;;) {
      const page = await this.frames(where, parameters, forward, keyset);
      for (const frame of page) {
        const bound = forward ? BigInt(frame.min_ts_ms) * 1_000_000n : (BigInt(frame.max_ts_ms) + 1n) * 1_000_000n - 1n;
        if (found.length > request.limit) {
          const last = found[request.limit].ts;
          if (forward ? bound > last : bound < last) break scan;
        }
        // Past the budget the page ends, but only once the frontier has moved past the start:
        // frames that all overlap the start must be read whole, however many they are.
        if (scanned >= this.framesPerQuery && (start === undefined || order(frontierCursor(bound), start) > 0)) {
          frontier = bound;
          break scan;
        }
        scanned += 1;
        for (const line of await this.store.readFrame(frame)) {
          const key = { ts: BigInt(line.ts), seq: BigInt(line.seq) };
          if (after(key) && lineMatches(line, filter)) found.push({ ...key, line });
        }
        found.sort(order);
        if (found.length > request.limit + 1) found.length = request.limit + 1;
        keyset = [Number(forward ? frame.min_ts_ms : frame.max_ts_ms), Number(frame.first_seq)];
      }
      if (page.length < FRAME_PAGE) break;
    }

    let lines = found;
    let next: Cursor | undefined;
    if (frontier !== undefined) {
      // Lines at or past the frontier may sit in frames not read yet: they wait for the next page.
      lines = found.filter((line) => (forward ? line.ts < frontier! : line.ts > frontier!));
      next = { direction: request.direction, ...frontierCursor(frontier) };
    }
    if (lines.length > request.limit) {
      lines = lines.slice(0, request.limit);
      const last = lines[lines.length - 1];
      next = { direction: request.direction, ts: last.ts, seq: last.seq };
    }
    return { lines: lines.map((item) => lineView(item.line)), ...(next ? { next: encodeCursor(next) } : {}) };
  }

  private frames(where: string, parameters: unknown[], forward: boolean, keyset?: [number, number]): Promise<FrameRow[]> {
    const bound = forward ? 'f.min_ts_ms' : 'f.max_ts_ms';
    const keysetSql = keyset ? ` AND (${bound} ${forward ? '>' : '<'} ? OR (${bound} = ? AND f.first_seq ${forward ? '>' : '<'} ?))` : '';
    return this.db.query<FrameRow[]>(
      `SELECT f.segment_id, s.file, f.byte_offset, f.byte_length, f.min_ts_ms, f.max_ts_ms, f.first_seq, f.last_seq
       FROM logarithm_frames f JOIN logarithm_segments s ON s.id = f.segment_id
       WHERE ${where}${keysetSql}
       ORDER BY ${bound} ${forward ? 'ASC' : 'DESC'}, f.first_seq ${forward ? 'ASC' : 'DESC'} LIMIT ${FRAME_PAGE}`,
      keyset ? [...parameters, keyset[0], keyset[0], keyset[1]] : parameters,
    );
  }
}

/** Without a cursor, a page starts just before `since` (forward) or just after `until` (backward), if given. */
function startOf(filter: LogFilter, forward: boolean): Key | undefined {
  if (forward) return filter.since === undefined ? undefined : { ts: filter.since - 1n, seq: MAX_SEQ };
  return filter.until === undefined ? undefined : { ts: filter.until + 1n, seq: 0n };
}

function compare(a: Key, b: Key): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1;
}

function maxOf(a?: bigint, b?: bigint): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

function minOf(a?: bigint, b?: bigint): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
