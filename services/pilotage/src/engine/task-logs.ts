import type { Logger } from 'pino';
import type { EventBus, OutgoingMessage } from '@co/bus';

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
  /** Already masked: secret values of the run are `***`. */
  text: string;
}

export interface TaskLogContext {
  tenant?: string;
  project: string;
  workflowId: string;
  traceparent?: string;
}

export interface TaskLogPublishing {
  /** Lines waiting for the bus's acknowledgement, at most. */
  bufferLines: number;
  /** Wait before the first retry of a batch; it doubles up to `retryMaxMs`. */
  retryFirstMs: number;
  retryMaxMs: number;
  /** How long a stopping engine waits for the queue to empty, and a finishing task for its lines. */
  drainMs: number;
}

/**
 * Bounds of the publishing queue. A full queue makes the task's log reader wait (the
 * container engine keeps the container's output meanwhile) rather than drop lines.
 */
export const TASK_LOG_PUBLISHING: Readonly<TaskLogPublishing> = {
  bufferLines: 20_000,
  retryFirstMs: 200,
  retryMaxMs: 10_000,
  drainMs: 10_000,
};

/** One task attempt, whose lines can be waited for. */
export interface TaskLogAttempt {
  runId: string;
  task: string;
  attempt: number;
}

function attemptKey({ runId, task, attempt }: TaskLogAttempt): string {
  return `${runId}/${task}/${attempt}`;
}

export function taskLogSubject(prefix: string, runId: string): string {
  return `${prefix}.pilotage.tasklog.${runId}`;
}

/**
 * Task logs leave pilotage here: published on the bus (`<prefix>.pilotage.tasklog.<run>`)
 * for logarithm, which stores them and answers every read. Pilotage keeps no copy.
 * Batches are published in order, each retried until the bus acknowledges it; a batch's
 * message id is its key range (run, task, attempt, source, first-last seq), so a retry
 * the bus had in fact stored, or a log replayed after an engine restart, is de-duplicated
 * (by the bus within its window, and by logarithm by line key).
 */
export class TaskLogStore {
  private readonly queue: { message: OutgoingMessage; lines: number; attempt: string }[] = [];
  private queuedLines = 0;
  private pumping?: Promise<void>;
  private readonly waitingForRoom: (() => void)[] = [];
  /** Per attempt (`run/task/attempt`): batches not yet acknowledged, and who waits for none to be left. */
  private readonly unacknowledged = new Map<string, { batches: number; waiting: Set<(acknowledged: boolean) => void> }>();
  private closed = false;
  private readonly limits: TaskLogPublishing;

  constructor(
    private readonly bus: EventBus,
    private readonly subjectPrefix: string,
    private readonly logger: Logger,
    limits: Partial<TaskLogPublishing> = {},
  ) {
    this.limits = { ...TASK_LOG_PUBLISHING, ...limits };
  }

  /**
   * Queues the lines (all of one attempt); resolves once they are queued (waits while the
   * queue is full), not once the bus has them: see `acknowledged`.
   */
  async write(lines: TaskLogLine[], context: TaskLogContext): Promise<void> {
    if (lines.length === 0) return;
    while (this.queuedLines >= this.limits.bufferLines && !this.closed) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
    const attempt = attemptKey(lines[0]);
    // One message per source, so that each message has one key range.
    for (const source of ['engine', 'container'] as const) {
      const batch = lines.filter((line) => line.source === source);
      if (batch.length === 0) continue;
      this.queue.push({ message: this.message(batch, context), lines: batch.length, attempt });
      this.queuedLines += batch.length;
      const entry = this.unacknowledged.get(attempt) ?? { batches: 0, waiting: new Set() };
      entry.batches += 1;
      this.unacknowledged.set(attempt, entry);
    }
    this.kick();
  }

  /**
   * Resolves `true` once the bus acknowledged every line written so far for the attempt
   * (at once when none waits), `false` when `timeoutMs` (the drain time by default) passed
   * first, `signal` aborted or the store closed. A task's end is recorded only after this:
   * once its end is recorded nobody reads its container's log again.
   */
  acknowledged(attempt: TaskLogAttempt, { timeoutMs = this.limits.drainMs, signal }: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const entry = this.unacknowledged.get(attemptKey(attempt));
    if (!entry) return Promise.resolve(true);
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const settle = (acknowledged: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
        entry.waiting.delete(settle);
        resolve(acknowledged);
      };
      const abandon = () => settle(false);
      const timer = setTimeout(abandon, timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', abandon, { once: true });
      entry.waiting.add(settle);
    });
  }

  private kick(): void {
    if (this.pumping || this.closed) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // A writer let in as the loop ended may have queued more.
      if (this.queue.length > 0) this.kick();
    });
  }

  /** How long a stopping engine waits for the queue to empty, and a finishing task for its lines. */
  get drainMs(): number {
    return this.limits.drainMs;
  }

  /** Lines not yet acknowledged by the bus. */
  get pendingLines(): number {
    return this.queuedLines;
  }

  /**
   * Resolves once every batch handed over so far was acknowledged, or after `timeoutMs`
   * (then logs how many lines stay unpublished: a task whose end is not recorded yet is
   * adopted and its log replayed by the next engine; lines of a task whose end was recorded
   * without waiting for them, see `acknowledged`, are lost).
   */
  async drained(timeoutMs: number = this.limits.drainMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pumping && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.pumping, new Promise((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))]);
      clearTimeout(timer);
      // Let a follow-up pump (more lines queued meanwhile) start before looking again.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.queuedLines > 0) {
      this.logger.warn({ lines: this.queuedLines }, 'task log lines were not acknowledged by the bus before the engine stopped');
    }
  }

  /** Stops retrying (the service is closing); writers waiting for room, or for acknowledgements, are let go. */
  close(): void {
    this.closed = true;
    for (const resume of this.waitingForRoom.splice(0)) resume();
    for (const entry of this.unacknowledged.values()) for (const settle of [...entry.waiting]) settle(false);
  }

  private async pump(): Promise<void> {
    let delay = this.limits.retryFirstMs;
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0];
      try {
        await this.bus.publish(head.message);
      } catch (error) {
        this.logger.warn(
          { err: error, subject: head.message.subject, lines: this.queuedLines, retryInMs: delay },
          'the bus did not acknowledge task log lines; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, this.limits.retryMaxMs);
        continue;
      }
      delay = this.limits.retryFirstMs;
      this.queue.shift();
      this.queuedLines -= head.lines;
      this.acknowledge(head.attempt);
      while (this.queuedLines < this.limits.bufferLines && this.waitingForRoom.length > 0) this.waitingForRoom.shift()!();
    }
  }

  private acknowledge(attempt: string): void {
    const entry = this.unacknowledged.get(attempt)!;
    entry.batches -= 1;
    if (entry.batches > 0) return;
    this.unacknowledged.delete(attempt);
    for (const settle of [...entry.waiting]) settle(true);
  }

  private message(lines: TaskLogLine[], context: TaskLogContext): OutgoingMessage {
    const first = lines[0];
    const last = lines[lines.length - 1];
    const headers: Record<string, string> = { 'Co-Project': context.project };
    if (context.tenant) headers['Co-Tenant'] = context.tenant;
    if (context.traceparent) headers.traceparent = context.traceparent;
    return {
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
  }
}
