import type { EventStore } from './event-store';
import type { RecordedEvent } from './events';

export interface EventFeedOptions {
  batchSize: number;
  /**
   * How long a hole in the positions is waited for before it is passed. On MySQL a
   * transaction may commit position 11 before position 10; a hole can also be an
   * auto-increment value burnt by a failed append, which never fills.
   */
  gapGraceMs: number;
  /** How long a passed hole is still checked for a row that commits late. */
  lateWindowMs: number;
}

export const DEFAULT_FEED_OPTIONS: EventFeedOptions = { batchSize: 500, gapGraceMs: 250, lateWindowMs: 300_000 };

const MAX_TRACKED_HOLES = 10_000;

export interface FeedBatch {
  /** Events past the checkpoint, in position order, with no unresolved hole before any. */
  events: RecordedEvent[];
  /** Events that filled a hole after it was passed: older than the checkpoint. */
  late: RecordedEvent[];
  /** The checkpoint to store once `events` and `late` are handled. */
  checkpoint: number;
}

/** Reads the log past a checkpoint so that no committed event is skipped. */
export class EventFeed {
  private holeSeenAt?: { position: number; at: number };
  private readonly passedHoles = new Map<number, number>();

  constructor(
    private readonly store: EventStore,
    private readonly options: EventFeedOptions = DEFAULT_FEED_OPTIONS,
  ) {}

  /** True while a hole is inside its grace period: worth looking again soon. */
  get waitingForHole(): boolean {
    return this.holeSeenAt !== undefined;
  }

  async next(checkpoint: number): Promise<FeedBatch> {
    const late = await this.lateEvents();
    const rows = await this.store.readAll(checkpoint, this.options.batchSize);
    const events: RecordedEvent[] = [];
    let expected = checkpoint + 1;
    for (const row of rows) {
      if (row.position > expected && this.store.db.dialect === 'mysql') {
        if (!this.holeExpired(expected)) break;
        this.passHole(expected, row.position - 1);
      }
      events.push(row);
      expected = row.position + 1;
    }
    if (events.length > 0 && this.holeSeenAt && this.holeSeenAt.position < expected) this.holeSeenAt = undefined;
    return { events, late, checkpoint: events.length ? events[events.length - 1].position : checkpoint };
  }

  private holeExpired(position: number): boolean {
    const now = Date.now();
    if (!this.holeSeenAt || this.holeSeenAt.position !== position) {
      this.holeSeenAt = { position, at: now };
    }
    return now - this.holeSeenAt.at >= this.options.gapGraceMs;
  }

  private passHole(from: number, to: number) {
    this.holeSeenAt = undefined;
    const until = Date.now() + this.options.lateWindowMs;
    for (let position = from; position <= to && this.passedHoles.size < MAX_TRACKED_HOLES; position++) {
      this.passedHoles.set(position, until);
    }
  }

  private async lateEvents(): Promise<RecordedEvent[]> {
    if (this.passedHoles.size === 0) return [];
    const now = Date.now();
    for (const [position, until] of this.passedHoles) if (until < now) this.passedHoles.delete(position);
    const found = await this.store.readPositions([...this.passedHoles.keys()].slice(0, 1000));
    for (const event of found) this.passedHoles.delete(event.position);
    return found;
  }
}
