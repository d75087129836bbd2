import type { Logger } from 'pino';
import type { EventBus } from '@co/bus';
import { sqlTime, type Database } from '@co/eventstore';
import { InvalidInputError } from '@co/common';

export interface TaskLogLine {
  runId: string;
  /** `<stage>.<action>` */
  task: string;
  attempt: number;
  /** `container`: the component's own output; `engine`: what the engine did for it. */
  source: 'container' | 'engine';
  /** Position within (run, task, attempt, source): replaying a container's log gives the same numbers. */
  seq: number;
  stream: 'stdout' | 'stderr';
  time: Date;
  text: string;
}

export interface TaskLogContext {
  tenant?: string;
  project: string;
  workflowId: string;
  traceparent?: string;
}

/** Lines of one task log page, oldest first. */
export interface TaskLogPage {
  lines: { attempt: number; source: string; seq: number; stream: string; time: string; text: string }[];
  /** Pass as `after` to read on; absent at the end. */
  next?: string;
}

export const TASK_LOG_LIMITS = { pageLines: 5000 } as const;

export function taskLogSubject(prefix: string, runId: string): string {
  return `${prefix}.pilotage.tasklog.${runId}`;
}

/**
 * Task logs: stored in pilotage's database (read by `GET /runs/{id}/tasks/{task}/logs`)
 * and published on NATS for log collectors. A line is keyed by (run, task, attempt,
 * source, seq), so a log replayed after an engine restart is stored once.
 */
export class TaskLogStore {
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly subjectPrefix: string,
    private readonly logger: Logger,
  ) {}

  async write(lines: TaskLogLine[], context: TaskLogContext): Promise<void> {
    if (lines.length === 0) return;
    const mysql = this.db.dialect === 'mysql';
    const values = lines.flatMap((line) => [
      line.runId,
      line.task,
      line.attempt,
      line.source,
      line.seq,
      line.stream,
      sqlTime(this.db, line.time),
      line.text,
    ]);
    const rows = lines.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    await this.db.query(
      `INSERT ${mysql ? 'IGNORE' : 'OR IGNORE'} INTO pilotage_task_logs (run_id, task, attempt, source, seq, stream, logged_at, line) VALUES ${rows}`,
      values,
    );
    // One message per source, so that each message has one key range.
    for (const source of ['engine', 'container'] as const) {
      const batch = lines.filter((line) => line.source === source);
      if (batch.length > 0) this.publish(batch, context);
    }
  }

  /**
   * Published in the background, in order: the database copy is the record (it is what
   * the log endpoint reads and what survives a crash); collectors de-duplicate by key.
   */
  private publish(lines: TaskLogLine[], context: TaskLogContext): void {
    const first = lines[0];
    const last = lines[lines.length - 1];
    const headers: Record<string, string> = { 'Co-Project': context.project };
    if (context.tenant) headers['Co-Tenant'] = context.tenant;
    if (context.traceparent) headers.traceparent = context.traceparent;
    const message = {
      id: `${first.runId}/${first.task}/${first.attempt}/${first.source}/${first.seq}-${last.seq}`,
      subject: taskLogSubject(this.subjectPrefix, first.runId),
      headers,
      data: {
        runId: first.runId,
        workflowId: context.workflowId,
        project: context.project,
        lines: lines.map((line) => ({
          task: line.task,
          attempt: line.attempt,
          source: line.source,
          seq: line.seq,
          stream: line.stream,
          time: line.time.toISOString(),
          text: line.text,
        })),
      },
    };
    this.publishing = this.publishing.then(() =>
      this.bus.publish(message).then(
        () => undefined,
        (error: unknown) => this.logger.warn({ err: error, runId: first.runId, task: first.task }, 'task log lines were stored but not published'),
      ),
    );
  }

  /** Resolves once every batch handed over so far was published (or given up). */
  drained(): Promise<void> {
    return this.publishing;
  }

  async read(runId: string, task: string, options: { attempt?: number; after?: string; limit?: number }): Promise<TaskLogPage> {
    const limit = Math.min(options.limit ?? 1000, TASK_LOG_LIMITS.pageLines);
    const conditions = ['run_id = ?', 'task = ?'];
    const parameters: unknown[] = [runId, task];
    if (options.attempt !== undefined) {
      conditions.push('attempt = ?');
      parameters.push(options.attempt);
    }
    if (options.after) {
      const [time, attempt, source, seq] = decodeCursor(options.after);
      conditions.push('(logged_at > ? OR (logged_at = ? AND (attempt > ? OR (attempt = ? AND (source > ? OR (source = ? AND seq > ?))))))');
      const at = this.db.dialect === 'mysql' ? new Date(time) : time;
      parameters.push(at, at, attempt, attempt, source, source, seq);
    }
    const rows = await this.db.query<{ attempt: number; source: string; seq: number | string; stream: string; logged_at: Date | string; line: string }[]>(
      `SELECT attempt, source, seq, stream, logged_at, line FROM pilotage_task_logs WHERE ${conditions.join(' AND ')}
        ORDER BY logged_at, attempt, source, seq LIMIT ?`,
      [...parameters, limit + 1],
    );
    const lines = rows.slice(0, limit).map((row) => ({
      attempt: Number(row.attempt),
      source: row.source,
      seq: Number(row.seq),
      stream: row.stream,
      time: new Date(row.logged_at).toISOString(),
      text: row.line,
    }));
    const last = lines[lines.length - 1];
    return { lines, next: rows.length > limit && last ? encodeCursor(last.time, last.attempt, last.source, last.seq) : undefined };
  }
}

function encodeCursor(time: string, attempt: number, source: string, seq: number): string {
  return Buffer.from(JSON.stringify([time, attempt, source, seq])).toString('base64url');
}

function decodeCursor(cursor: string): [string, number, string, number] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(value) && value.length === 4) return value as [string, number, string, number];
  } catch {
    // fall through
  }
  throw new InvalidInputError('LOGS.INVALID_CURSOR', 'The `after` cursor is not one this API handed out; pass the `next` value of the previous page.');
}
