import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DomainError, InvalidInputError, UnavailableError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { RunEnds } from '../runs/run-ends';
import type { StoredLogLine } from '../storage/log-line';
import { LogStore } from '../storage/log-store';
import { RunTail, type TailSink, type TailTarget } from './run-tail';
import { TAIL_SETTINGS, type TailSettings } from './tail-settings';

/**
 * Every live tail of this process. Listens once to the store's commits and to run
 * ends, and hands each tail what concerns its run. Holds the limit on concurrent
 * streams, and closes every stream when the service stops (clients resume with the
 * last id they got).
 */
@Injectable()
export class TailHub implements OnModuleInit, BeforeApplicationShutdown {
  private readonly byRun = new Map<string, Set<RunTail>>();
  private open = 0;
  private stopping = false;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly store: LogStore,
    private readonly runs: RunEnds,
    @Inject(TAIL_SETTINGS) private readonly settings: TailSettings,
  ) {}

  onModuleInit(): void {
    this.store.onCommitted((lines) => this.dispatch(lines));
    this.runs.onEnded((ended) => this.byRun.get(ended.run)?.forEach((tail) => tail.runEnded(ended)));
    // Open streams would keep the graceful stop waiting for their connections.
    this.runtime.readiness.onStopAccepting(() => this.closeAll());
  }

  beforeApplicationShutdown(): void {
    this.closeAll();
  }

  /** Refuses a stream beyond the limit, or while stopping; call before answering the client. */
  admit(): void {
    if (this.stopping || !this.runtime.readiness.isAccepting) throw stopping();
    if (this.open >= this.settings.maxStreams) {
      throw new UnavailableError(
        'LOGS.TAIL_BUSY',
        `This logarithm already serves ${this.settings.maxStreams} live tails; retry shortly, or read the log with GET …/logs instead.`,
        { limit: this.settings.maxStreams },
      );
    }
  }

  /** Starts following `target` after `after` on `sink`; the tail closes itself at the run's end. */
  follow(target: TailTarget, after: bigint, sink: TailSink): RunTail {
    this.admit();
    const tail = new RunTail(
      target,
      after,
      sink,
      { readRunBySeq: (org, run, options) => this.store.readRunBySeq(org, run, options), ended: (run) => this.runs.ended(run) },
      {
        endGraceMs: this.settings.endGraceMs,
        maxQueuedLines: this.settings.maxQueuedLines,
        maxQueuedBytes: this.settings.maxQueuedBytes,
        heartbeatMs: this.settings.heartbeatSeconds * 1000,
      },
      () =>
        new UnavailableError(
          'LOGS.TAIL_TOO_SLOW',
          `The client left more than ${this.settings.maxQueuedLines} lines (or ${this.settings.maxQueuedBytes} bytes) unread; reconnect with the last id received to resume.`,
        ),
      (error) => this.failure(error, target),
    );
    let tails = this.byRun.get(target.run);
    if (!tails) this.byRun.set(target.run, (tails = new Set()));
    tails.add(tail);
    this.open += 1;
    const unwatch = this.runs.watch(target.run);
    tail.onClose(() => {
      unwatch();
      this.open -= 1;
      const set = this.byRun.get(target.run);
      set?.delete(tail);
      if (set?.size === 0) this.byRun.delete(target.run);
    });
    void tail.start();
    return tail;
  }

  private dispatch(lines: StoredLogLine[]): void {
    if (this.byRun.size === 0) return;
    let byRun: Map<string, StoredLogLine[]> | undefined;
    for (const line of lines) {
      const run = line.labels.run;
      if (run === undefined || !this.byRun.has(run)) continue;
      byRun ??= new Map();
      const list = byRun.get(run);
      if (list) list.push(line);
      else byRun.set(run, [line]);
    }
    if (!byRun) return;
    for (const [run, list] of byRun) this.byRun.get(run)?.forEach((tail) => tail.committed(list));
  }

  private closeAll(): void {
    this.stopping = true;
    for (const tails of [...this.byRun.values()]) for (const tail of [...tails]) tail.fail(stopping());
  }

  private failure(error: unknown, target: TailTarget): DomainError {
    if (error instanceof DomainError) return error;
    this.runtime.logger.error({ err: error, org: target.org, run: target.run }, 'a live tail failed');
    return new UnavailableError('LOGS.TAIL_FAILED', 'The log could not be read; reconnect with the last id received to resume.');
  }
}

function stopping(): UnavailableError {
  return new UnavailableError('LOGS.TAIL_STOPPING', 'logarithm is stopping; reconnect with the last id received to resume.');
}

/** `?after=` or `Last-Event-ID`: a sequence number received before (decimal), or nothing. */
export function parseOffset(value: string | undefined, what: string): bigint {
  if (value === undefined || value === '') return 0n;
  if (!/^\d{1,20}$/.test(value)) {
    throw new InvalidInputError('LOGS.INVALID_OFFSET', `${what} must be the id (seq) of a line received before, a whole number; got ${JSON.stringify(value.slice(0, 40))}.`);
  }
  return BigInt(value);
}
