import { randomUUID } from 'node:crypto';
import { currentTraceparent } from '@co/telemetry';
import type { Database } from './database';
import { ConcurrencyConflictError, DuplicateEventError, InvalidEventError } from './errors';
import {
  aggregateOf,
  type EventMetadata,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
} from './events';

/** Limits that keep one append a reasonable unit of work. */
export const EVENT_LIMITS = {
  eventsPerAppend: 500,
  dataBytes: 1024 * 1024,
  typeLength: 128,
} as const;

/** How often an append at 'any' retries a lost race before giving up with the conflict. */
const ANY_ATTEMPTS = 30;

const EVENT_TYPE = /^[A-Z][A-Za-z0-9]{0,127}$/;

interface EventRow {
  position: number | string;
  event_id: string;
  stream_id: string;
  stream_version: number | string;
  type: string;
  schema_version: number | string;
  data: string | Record<string, unknown>;
  metadata: string | EventMetadata;
  occurred_at: string | Date;
}

interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
  driverError?: DriverError;
}

const COLUMNS = 'position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at';

/**
 * Append-only event log with optimistic concurrency: `UNIQUE(stream_id, stream_version)`
 * guarantees that of two appends made against the same version exactly one wins; the
 * other gets a ConcurrencyConflictError and nothing of it is written.
 */
export class EventStore {
  private readonly appendListeners = new Set<(lastPosition: number) => void>();

  constructor(readonly db: Database) {}

  async append<T extends object>(
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: NewEvent<T>[],
    metadata: EventMetadata = {},
  ): Promise<RecordedEvent<T>[]> {
    this.validate(streamId, expectedVersion, events);
    const traceparent = metadata.traceparent ?? currentTraceparent();
    const fullMetadata: EventMetadata = { ...metadata, ...(traceparent ? { traceparent } : {}) };
    const occurredAt = new Date();
    const prepared = events.map((event) => ({
      id: event.id ?? randomUUID(),
      type: event.type,
      schemaVersion: event.schemaVersion ?? 1,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(fullMetadata),
    }));
    for (const event of prepared) {
      if (Buffer.byteLength(event.data) > EVENT_LIMITS.dataBytes) {
        throw new InvalidEventError(
          `Event ${event.type} carries ${Buffer.byteLength(event.data)} bytes of data; the limit is ${EVENT_LIMITS.dataBytes}.`,
        );
      }
    }
    let first: { position: number; version: number } | undefined;
    // 'any' means "at the end, whatever the version": a lost race is simply retried.
    for (let attempt = 1; !first; attempt++) {
      try {
        first =
          this.db.dialect === 'mysql'
            ? await this.appendMysql(streamId, expectedVersion, prepared, occurredAt)
            : await this.appendSqlite(streamId, expectedVersion, prepared, occurredAt);
      } catch (error) {
        const translated = await this.translate(error, streamId, expectedVersion, prepared);
        const retry = expectedVersion === 'any' && translated instanceof ConcurrencyConflictError && attempt < ANY_ATTEMPTS;
        if (!retry) throw translated;
        // Each round of a race has one winner; a little jitter spreads the rest out.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 2)));
      }
    }
    let positions = prepared.map((_, index) => first.position + index);
    if (this.db.dialect === 'mysql' && prepared.length > 1) {
      // Auto-increment values of one multi-row insert are not guaranteed consecutive.
      const rows = await this.db.query<{ position: string | number }[]>(
        'SELECT position FROM co_events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?',
        [streamId, first.version, prepared.length],
      );
      positions = rows.map((row) => Number(row.position));
    }
    const recorded = prepared.map((event, index) => ({
      position: positions[index],
      id: event.id,
      streamId,
      streamVersion: first.version + index,
      type: event.type,
      schemaVersion: event.schemaVersion,
      data: events[index].data,
      metadata: fullMetadata,
      occurredAt,
    }));
    const last = positions[positions.length - 1];
    for (const listener of this.appendListeners) listener(last);
    return recorded;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<RecordedEvent[]> {
    const rows = await this.db.query<EventRow[]>(
      `SELECT ${COLUMNS} FROM co_events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version`,
      [streamId, fromVersion],
    );
    return rows.map(toRecorded);
  }

  /** Events after a global position, oldest first. */
  async readAll(afterPosition: number, limit: number): Promise<RecordedEvent[]> {
    const rows = await this.db.query<EventRow[]>(
      `SELECT ${COLUMNS} FROM co_events WHERE position > ? ORDER BY position LIMIT ?`,
      [afterPosition, limit],
    );
    return rows.map(toRecorded);
  }

  async readPositions(positions: number[]): Promise<RecordedEvent[]> {
    if (positions.length === 0) return [];
    const rows = await this.db.query<EventRow[]>(
      `SELECT ${COLUMNS} FROM co_events WHERE position IN (${positions.map(() => '?').join(', ')}) ORDER BY position`,
      positions,
    );
    return rows.map(toRecorded);
  }

  async streamVersion(streamId: string): Promise<number> {
    return this.lastVersion((sql, parameters) => this.db.query(sql, parameters), streamId);
  }

  async headPosition(): Promise<number> {
    const rows = await this.db.query<{ head: number | string | null }[]>('SELECT MAX(position) AS head FROM co_events');
    return Number(rows[0]?.head ?? 0);
  }

  /** Called after every successful append in this process (wakes relays and projections). */
  onAppended(listener: (lastPosition: number) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * No locks, no transaction: read the stream's version (skipped for a new stream),
   * then one INSERT … VALUES of all events. The unique key (stream_id, stream_version)
   * settles a race: of two appenders that read the same version, the second insert
   * fails whole. A plain INSERT … VALUES also makes InnoDB hand out exactly as many
   * positions as rows, with no AUTO-INC table lock held through the statement.
   */
  private async appendMysql(
    streamId: string,
    expected: ExpectedVersion,
    events: PreparedEvent[],
    occurredAt: Date,
  ): Promise<{ position: number; version: number }> {
    const current = expected === 'no-stream' ? 0 : await this.streamVersion(streamId);
    const wanted = expected === 'any' ? current : expected === 'no-stream' ? 0 : expected;
    if (current !== wanted) throw new ConcurrencyConflictError(streamId, expected, current);
    const result = await this.db.query<{ insertId: number | string }>(
      insertSql(events.length),
      insertParameters(streamId, current, events, occurredAt),
    );
    return { position: Number(result.insertId), version: current + 1 };
  }

  private appendSqlite(
    streamId: string,
    expected: ExpectedVersion,
    events: PreparedEvent[],
    occurredAt: Date,
  ): Promise<{ position: number; version: number }> {
    return this.db.transaction(async (manager) => {
      const current = await this.lastVersion((sql, parameters) => manager.query(sql, parameters), streamId);
      const wanted = expected === 'any' ? current : expected === 'no-stream' ? 0 : expected;
      if (current !== wanted) throw new ConcurrencyConflictError(streamId, expected, current);
      const lastRowId = await manager.query(
        insertSql(events.length),
        insertParameters(streamId, current, events, occurredAt.toISOString()),
      );
      return { position: Number(lastRowId) - events.length + 1, version: current + 1 };
    });
  }

  private async lastVersion(
    query: (sql: string, parameters: unknown[]) => Promise<{ stream_version: number | string }[]>,
    streamId: string,
  ): Promise<number> {
    const rows = await query(
      'SELECT stream_version FROM co_events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1',
      [streamId],
    );
    return rows.length ? Number(rows[0].stream_version) : 0;
  }

  private async translate(
    error: unknown,
    streamId: string,
    expected: ExpectedVersion,
    events: PreparedEvent[],
  ): Promise<unknown> {
    if (error instanceof ConcurrencyConflictError) return error;
    const driver = (error as DriverError).driverError ?? (error as DriverError);
    const message = driver.message ?? '';
    const duplicate = driver.code === 'ER_DUP_ENTRY' || driver.code === 'SQLITE_CONSTRAINT_UNIQUE';
    if (duplicate && /event_id/.test(message)) {
      const existing = await this.db.query<{ event_id: string }[]>(
        `SELECT event_id FROM co_events WHERE event_id IN (${events.map(() => '?').join(', ')}) LIMIT 1`,
        events.map((event) => event.id),
      );
      return new DuplicateEventError(existing[0]?.event_id ?? events[0].id);
    }
    // A lost race on the same stream shows as a duplicate (stream, version); a deadlock
    // victim (which MariaDB may report as a failed auto-increment read) was rolled
    // back whole, and retrying after a reload is the caller's right move there too.
    const deadlock = ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_AUTOINC_READ_FAILED'].includes(driver.code ?? '');
    if (duplicate || deadlock) {
      return new ConcurrencyConflictError(streamId, expected, await this.streamVersion(streamId));
    }
    return error;
  }

  private validate(streamId: string, expected: ExpectedVersion, events: NewEvent<object>[]) {
    try {
      aggregateOf(streamId);
    } catch (error) {
      throw new InvalidEventError((error as Error).message);
    }
    if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
      throw new InvalidEventError(`expected version must be a non-negative integer, 'any' or 'no-stream'`);
    }
    if (events.length === 0 || events.length > EVENT_LIMITS.eventsPerAppend) {
      throw new InvalidEventError(`an append takes 1 to ${EVENT_LIMITS.eventsPerAppend} events, not ${events.length}`);
    }
    for (const event of events) {
      if (!EVENT_TYPE.test(event.type)) {
        throw new InvalidEventError(`event type "${event.type}" must be PascalCase letters and digits, e.g. RunStarted`);
      }
    }
  }
}

function insertSql(rows: number): string {
  return `INSERT INTO co_events (event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at)
    VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
}

function insertParameters(streamId: string, current: number, events: PreparedEvent[], occurredAt: Date | string): unknown[] {
  return events.flatMap((event, index) => [
    event.id,
    streamId,
    current + index + 1,
    event.type,
    event.schemaVersion,
    event.data,
    event.metadata,
    occurredAt,
  ]);
}

interface PreparedEvent {
  id: string;
  type: string;
  schemaVersion: number;
  data: string;
  metadata: string;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    position: Number(row.position),
    id: row.event_id,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    type: row.type,
    schemaVersion: Number(row.schema_version),
    data: typeof row.data === 'string' ? JSON.parse(row.data) : row.data,
    metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
    occurredAt: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
  };
}
