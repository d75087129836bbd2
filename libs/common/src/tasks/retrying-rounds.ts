/** What one round says: `done` stops the rounds, `again` runs another after the current wait. */
export type RoundOutcome = 'done' | 'again';

export interface RetryingRoundsOptions {
  /** Wait before the second round; it doubles after each round up to `longestMs`. */
  firstMs: number;
  longestMs: number;
  /** A round that throws is logged here and tried again, like `again`; `waitMs` is the coming wait. */
  onError(error: unknown, waitMs: number): void;
}

/**
 * Background work done in rounds until it is done: the first round at once, then again
 * with a doubling wait while it answers `again` or fails. Used for start-up seeding that
 * waits on another service. `stop()` ends the rounds and waits for one in progress, so a
 * graceful shutdown never cuts a round in half. Timers never keep the process alive.
 */
export class RetryingRounds {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly round: () => Promise<RoundOutcome>,
    private readonly options: RetryingRoundsOptions,
  ) {}

  /** True once `stop()` was called: long rounds check it between steps. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** The first round at once, or after `firstMs` when the caller already made a first attempt itself. */
  start(options: { waitFirst?: boolean } = {}): void {
    const first = this.options.firstMs;
    if (options.waitFirst) this.schedule(first, Math.min(first * 2, this.options.longestMs));
    else this.schedule(0, first);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number, nextDelayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.run(nextDelayMs);
    }, delayMs);
    this.timer.unref();
  }

  private async run(waitMs: number): Promise<void> {
    let outcome: RoundOutcome;
    try {
      outcome = await this.round();
    } catch (error) {
      if (this.stopped) return;
      this.options.onError(error, waitMs);
      outcome = 'again';
    }
    if (outcome === 'again') this.schedule(waitMs, Math.min(waitMs * 2, this.options.longestMs));
  }
}
