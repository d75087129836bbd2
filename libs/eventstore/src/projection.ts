import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { Checkpoints } from './checkpoints';
import type { Database } from './database';
import { DEFAULT_FEED_OPTIONS, EventFeed, type EventFeedOptions } from './event-feed';
import type { EventStore } from './event-store';
import type { RecordedEvent } from './events';
import { WakeSignal } from './wake-signal';

/**
 * A read model built from the service's own events. `apply` and the checkpoint are
 * written in one transaction, so an event is applied exactly once; `reset` empties
 * the read model so that it can be rebuilt from position zero.
 */
export interface Projection {
  readonly name: string;
  apply(event: RecordedEvent, manager: EntityManager): Promise<void>;
  /**
   * Optional: applies a batch in position order at once (e.g. one multi-row INSERT),
   * used instead of `apply` when present. Keeps a projection fast enough to follow a
   * busy log: a statement per event costs a round trip per event.
   */
  applyBatch?(events: RecordedEvent[], manager: EntityManager): Promise<void>;
  reset(manager: EntityManager): Promise<void>;
}

export interface ProjectionRunnerOptions {
  logger: Logger;
  pollIntervalMs?: number;
  feed?: Partial<EventFeedOptions>;
}

export function projectionCheckpointName(projection: Projection | string): string {
  return `projection:${typeof projection === 'string' ? projection : projection.name}`;
}

/** Keeps every projection of a service caught up with its event log. */
export class ProjectionRunner {
  private readonly signal = new WakeSignal();
  private readonly feeds = new Map<string, EventFeed>();
  private readonly positions = new Map<string, number>();
  private readonly ensured = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private running?: Promise<void>;
  private stopping = false;
  private unsubscribe?: () => void;

  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    private readonly checkpoints: Checkpoints,
    private readonly projections: Projection[],
    private readonly options: ProjectionRunnerOptions,
  ) {
    const names = new Set<string>();
    for (const projection of projections) {
      if (names.has(projection.name)) throw new Error(`two projections are named ${projection.name}`);
      names.add(projection.name);
      this.feeds.set(projection.name, new EventFeed(store, { ...DEFAULT_FEED_OPTIONS, ...options.feed }));
    }
  }

  start(): void {
    if (this.running || this.projections.length === 0) return;
    this.stopping = false;
    this.unsubscribe = this.store.onAppended(() => this.signal.wake());
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.signal.wake();
    await this.running;
    this.running = undefined;
  }

  /** Applies everything committed so far to one projection; returns its new checkpoint. */
  async catchUp(name: string): Promise<number> {
    const projection = this.find(name);
    const checkpointName = projectionCheckpointName(projection);
    if (!this.ensured.has(name)) {
      await this.checkpoints.ensure(checkpointName);
      this.ensured.add(name);
    }
    // The position this runner last committed; the locked read inside each batch's
    // transaction is what decides.
    let checkpoint = this.positions.get(name) ?? (await this.checkpoints.get(checkpointName));
    for (;;) {
      const batch = await this.feeds.get(name)!.next(checkpoint);
      if (batch.events.length === 0 && batch.late.length === 0) {
        this.reached(name, checkpoint);
        return checkpoint;
      }
      const committed = await this.db.transaction<{ movedBackTo: number } | { position: number }>(async (manager) => {
        // Another runner (a second replica, or the rebuild command) may have moved the
        // checkpoint; the row lock makes it wait for this batch, and this one for it.
        const current = await this.checkpoints.get(checkpointName, manager, true);
        // Moved back (a rebuild started): this batch was read from the wrong place.
        if (current < checkpoint) return { movedBackTo: current };
        // Late events (they filled a hole after it was passed) sit below the checkpoint,
        // so the position cannot tell whether another runner already applied one; the
        // window is a hole outliving the grace period while two runners pass it.
        const pending = [...batch.late, ...batch.events.filter((event) => event.position > current)];
        if (projection.applyBatch) {
          if (pending.length > 0) await projection.applyBatch(pending, manager);
        } else {
          for (const event of pending) await projection.apply(event, manager);
        }
        const position = Math.max(current, batch.checkpoint);
        await this.checkpoints.save(checkpointName, position, manager);
        return { position };
      });
      if ('movedBackTo' in committed) {
        checkpoint = committed.movedBackTo;
        this.feeds.set(name, new EventFeed(this.store, { ...DEFAULT_FEED_OPTIONS, ...this.options.feed }));
        continue;
      }
      checkpoint = committed.position;
      this.reached(name, checkpoint);
    }
  }

  /** Empties the read model, resets its checkpoint to zero and replays the whole log. */
  async rebuild(name: string): Promise<number> {
    const projection = this.find(name);
    await this.db.transaction(async (manager) => {
      await projection.reset(manager);
      await this.checkpoints.save(projectionCheckpointName(projection), 0, manager);
    });
    this.feeds.set(name, new EventFeed(this.store, { ...DEFAULT_FEED_OPTIONS, ...this.options.feed }));
    this.positions.set(name, 0);
    return this.catchUp(name);
  }

  /** Resolves once every projection has applied the event at `position` (read-your-writes). */
  async waitFor(position: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.projections.every((projection) => (this.positions.get(projection.name) ?? 0) >= position)) {
      if (Date.now() > deadline) throw new Error(`projections did not reach position ${position} in ${timeoutMs} ms`);
      this.signal.wake();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50);
        const waiters = this.waiters;
        waiters.add(done);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
      });
    }
  }

  /**
   * Read-your-writes for a request that appended: like `waitFor`, but what was appended
   * stands either way, so a read model that lags only delays the answer (false).
   */
  async settle(position: number, timeoutMs = 10_000): Promise<boolean> {
    return this.waitFor(position, timeoutMs).then(
      () => true,
      () => false,
    );
  }

  get names(): string[] {
    return this.projections.map((projection) => projection.name);
  }

  private async run(): Promise<void> {
    const poll = this.options.pollIntervalMs ?? 500;
    while (!this.stopping) {
      try {
        for (const projection of this.projections) await this.catchUp(projection.name);
        const waiting = [...this.feeds.values()].some((feed) => feed.waitingForHole);
        await this.signal.sleep(waiting ? 20 : poll);
      } catch (error) {
        this.options.logger.error({ err: error }, 'projection failed; retrying');
        await this.signal.sleep(1000);
      }
    }
  }

  private reached(name: string, position: number) {
    this.positions.set(name, position);
    for (const waiter of [...this.waiters]) waiter();
  }

  private find(name: string): Projection {
    const projection = this.projections.find((candidate) => candidate.name === name);
    if (!projection) {
      throw new Error(`no projection named ${name}; known: ${this.names.join(', ') || 'none'}`);
    }
    return projection;
  }
}
