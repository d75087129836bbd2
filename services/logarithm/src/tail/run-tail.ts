import type { DomainError } from '@co/common';
import type { StoredLogLine } from '../storage/log-line';
import type { EndedRun } from '../runs/run-ends';

/** What a tail follows: one run's lines of one organization, or one task's of them. */
export interface TailTarget {
  org: string;
  project: string;
  run: string;
  /** `<stage>.<action>`; absent: every line of the run. */
  task?: string;
}

/** One client's connection, SSE or WebSocket: the tail writes to it and learns when it goes. */
export interface TailSink {
  line(line: StoredLogLine): void;
  /** Lines and bytes written to the connection that the client has not taken yet. */
  backlog(): { lines: number; bytes: number };
  /** Resolves when the client has taken what was written (or the connection closed). */
  drained(): Promise<void>;
  heartbeat(): void;
  /** Tells the client the run ended, then closes. */
  end(ended: EndedRun): void;
  /** Tells the client why the stream stops, then closes. */
  fail(error: DomainError): void;
}

/** Where a tail reads history and learns of ends; given by the hub. */
export interface TailSources {
  readRunBySeq(org: string, run: string, options: { task?: string; afterSeq?: string; limit: number }): Promise<StoredLogLine[]>;
  ended(run: string): Promise<EndedRun | null>;
}

export interface TailLimits {
  endGraceMs: number;
  maxQueuedLines: number;
  maxQueuedBytes: number;
  heartbeatMs: number;
}

/** Lines read from storage per page while catching up. */
const BACKFILL_PAGE = 1000;

/**
 * One live tail: history from the offset, then live lines, with no line lost or sent
 * twice. The hub hands it every committed line of its run from the moment it is
 * created, before history is read: those arriving during the catch-up wait in a
 * buffer, and when history is exhausted the buffer is drained skipping what history
 * already gave (`seq` ≤ the last one sent). A buffer that outgrows its limit is
 * dropped and history read once more, since what it held is stored by then.
 *
 * After the run's end the tail waits until no line of the run arrived for `endGraceMs`
 * (lines published just before the end may still be on their way), sends `end` and
 * closes; at most ten grace periods, should lines keep coming.
 */
export class RunTail {
  private last: bigint;
  private live = false;
  private closed = false;
  private pending: StoredLogLine[] = [];
  private overflowed = false;
  private ended?: EndedRun;
  private endNoticedAt = 0;
  private lastLineAt = 0;
  private endTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    readonly target: TailTarget,
    after: bigint,
    private readonly sink: TailSink,
    private readonly sources: TailSources,
    private readonly limits: TailLimits,
    private readonly tooSlow: () => DomainError,
    private readonly failed: (error: unknown) => DomainError,
  ) {
    this.last = after;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Catches up from the offset, then follows; call once, after the hub delivers committed lines to it. */
  async start(): Promise<void> {
    this.heartbeatTimer = setInterval(() => this.sink.heartbeat(), this.limits.heartbeatMs);
    this.heartbeatTimer.unref();
    try {
      do {
        this.overflowed = false;
        await this.backfill();
      } while (this.overflowed && !this.closed);
      if (this.closed) return;
      this.live = true;
      const buffered = this.pending;
      this.pending = [];
      this.deliver(buffered);
      const ended = this.ended ?? (await this.sources.ended(this.target.run));
      if (ended) this.runEnded(ended);
    } catch (error) {
      this.fail(this.failed(error));
    }
  }

  /** Lines just committed, every one of this tail's run (the hub filters by run). */
  committed(lines: StoredLogLine[]): void {
    if (this.closed) return;
    const mine = lines.filter((line) => this.matches(line));
    if (mine.length === 0) return;
    this.lastLineAt = Date.now();
    if (this.live) {
      this.deliver(mine);
      return;
    }
    if (this.overflowed) return;
    this.pending.push(...mine);
    if (this.pending.length > this.limits.maxQueuedLines) {
      this.pending = [];
      this.overflowed = true;
    }
  }

  runEnded(ended: EndedRun): void {
    if (this.closed || (this.ended && this.endNoticedAt)) return;
    this.ended = ended;
    // Ends learnt during the catch-up are acted on once live.
    if (!this.live) return;
    this.endNoticedAt = Date.now();
    // A run that ended long ago has no line on its way: no need to wait.
    const sinceEnd = this.endNoticedAt - ended.endedAt.getTime();
    this.armEnd(sinceEnd > this.limits.endGraceMs ? 0 : this.limits.endGraceMs - Math.max(0, sinceEnd));
  }

  /** Stops the tail with an error event (the client may resume from the last id it got). */
  fail(error: DomainError): void {
    if (this.closed) return;
    this.sink.fail(error);
    this.close();
  }

  /** The client went away, or the stream ended: stops timers and tells the hub. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.endTimer);
    clearInterval(this.heartbeatTimer);
    this.pending = [];
    for (const listener of this.closeListeners) listener();
  }

  private matches(line: StoredLogLine): boolean {
    return line.labels.run === this.target.run && line.labels.org === this.target.org && (this.target.task === undefined || line.labels.task === this.target.task);
  }

  private async backfill(): Promise<void> {
    for (;;) {
      const page = await this.sources.readRunBySeq(this.target.org, this.target.run, {
        task: this.target.task,
        afterSeq: this.last.toString(),
        limit: BACKFILL_PAGE,
      });
      if (this.closed) return;
      for (const line of page) this.send(line);
      // History is pulled: wait for the client rather than drop it.
      if (this.congested()) await this.sink.drained();
      if (this.closed || page.length < BACKFILL_PAGE) return;
    }
  }

  /**
   * Live lines are pushed: a client still holding more than the limit of what it was
   * sent before is dropped (it resumes from the last id it got). Checked before writing,
   * so that one large commit does not count against a client that keeps up.
   */
  private deliver(lines: StoredLogLine[]): void {
    if (this.congested()) {
      this.fail(this.tooSlow());
      return;
    }
    const ordered = lines.length > 1 ? [...lines].sort((a, b) => compareSeq(a.seq, b.seq)) : lines;
    for (const line of ordered) this.send(line);
  }

  private send(line: StoredLogLine): void {
    if (this.closed) return;
    const seq = BigInt(line.seq);
    if (seq <= this.last) return;
    this.last = seq;
    this.sink.line(line);
  }

  private congested(): boolean {
    const backlog = this.sink.backlog();
    return backlog.lines > this.limits.maxQueuedLines || backlog.bytes > this.limits.maxQueuedBytes;
  }

  private armEnd(delayMs: number): void {
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => this.endIfQuiet(), delayMs);
    this.endTimer.unref();
  }

  private endIfQuiet(): void {
    if (this.closed || !this.ended) return;
    const now = Date.now();
    const quietFor = now - this.lastLineAt;
    const waited = now - this.endNoticedAt;
    if (quietFor < this.limits.endGraceMs && waited < 10 * this.limits.endGraceMs) {
      this.armEnd(this.limits.endGraceMs - quietFor);
      return;
    }
    this.sink.end(this.ended);
    this.close();
  }
}

function compareSeq(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
