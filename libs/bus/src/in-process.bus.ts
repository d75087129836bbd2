import type { Logger } from 'pino';
import {
  type BusSettings,
  type BusSubscription,
  busSettings,
  DEFAULT_MAX_BATCH,
  type DeliveredMessage,
  type EventBus,
  type OutgoingMessage,
  type PublishResult,
  type SubscribeOptions,
} from './event-bus';
import type { BusJournal, JournalMessage } from './bus-journal';
import { deadLetterFor, logOutcome, runBatch, runDelivery } from './delivery';
import { subjectMatches } from './subjects';

type StoredMessage = JournalMessage;

/** A message taken from the log for delivery, with how often it has been delivered. */
interface Taken {
  message: StoredMessage;
  deliveryCount: number;
}

interface Redelivery {
  message: StoredMessage;
  deliveryCount: number;
  dueAt: number;
}

export interface InProcessBusOptions extends Partial<BusSettings> {
  logger: Logger;
  /** Messages kept for consumers that subscribe later (oldest dropped first). */
  retainLimit?: number;
  /** Keeps messages and consumer positions across restarts; memory only without it. */
  journal?: BusJournal;
}

/**
 * The bus for one process (standalone mode and unit tests). It keeps the JetStream
 * contract: messages are retained, so a durable that subscribes later still gets them;
 * each durable remembers its position; failures are redelivered with backoff and
 * dead-lettered after maxDeliver. Payloads are copied through JSON as they would be
 * on the wire. With a journal (standalone mode) messages and each durable's position
 * survive a restart, so a message published but not yet handled is delivered after it;
 * without one (unit tests) everything lives in memory.
 */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process' as const;
  private readonly settings: BusSettings;
  private readonly log: StoredMessage[] = [];
  private readonly seen = new Map<string, { sequence: number; at: number }>();
  private readonly consumers = new Map<string, InProcessConsumer>();
  private sequence = 0;
  private closed = false;

  constructor(private readonly options: InProcessBusOptions) {
    this.settings = busSettings(options);
  }

  async connect(): Promise<void> {
    this.closed = false;
    const journal = this.options.journal;
    if (journal && this.log.length === 0) {
      const now = Date.now();
      for (const message of journal.load()) {
        this.log.push(message);
        this.seen.set(message.id, { sequence: message.sequence, at: now });
        this.sequence = message.sequence;
      }
    }
  }

  async ensureStream(): Promise<void> {}

  async publish(message: OutgoingMessage): Promise<PublishResult> {
    if (this.closed) throw new Error('the in-process bus is closed');
    const now = Date.now();
    this.forgetExpiredIds(now);
    const previous = this.seen.get(message.id);
    if (previous) return { duplicate: true, sequence: previous.sequence };
    const body = {
      id: message.id,
      subject: message.subject,
      payload: JSON.stringify(message.data),
      headers: { ...(message.headers ?? {}) },
    };
    const sequence = this.options.journal ? this.options.journal.append(body) : this.sequence + 1;
    this.sequence = sequence;
    const stored: StoredMessage = { sequence, ...body };
    this.seen.set(message.id, { sequence, at: now });
    this.log.push(stored);
    const limit = this.options.retainLimit ?? 100_000;
    if (this.log.length > limit) {
      const dropped = this.log.splice(0, this.log.length - limit);
      this.options.journal?.trim(dropped[dropped.length - 1].sequence);
    }
    for (const consumer of this.consumers.values()) consumer.wake();
    return { duplicate: false, sequence: stored.sequence };
  }

  async subscribe(options: SubscribeOptions): Promise<BusSubscription> {
    let consumer = this.consumers.get(options.durable);
    if (!consumer) {
      consumer = new InProcessConsumer(options.durable, options.subject, this);
      this.consumers.set(options.durable, consumer);
    }
    return consumer.attach(options);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the in-process bus is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers.values()].map((consumer) => consumer.stopAll()));
    this.options.journal?.close();
  }

  /** @internal The first retained message past `sequence` that matches `subject`. */
  nextMatching(sequence: number, subject: string): StoredMessage | undefined {
    // The log is sorted by sequence: find the first index past `sequence`.
    let low = 0;
    let high = this.log.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.log[middle].sequence <= sequence) low = middle + 1;
      else high = middle;
    }
    for (let index = low; index < this.log.length; index++) {
      if (subjectMatches(subject, this.log[index].subject)) return this.log[index];
    }
    return undefined;
  }

  /** @internal */
  get lastSequence(): number {
    return this.sequence;
  }

  /** @internal */
  get journal(): BusJournal | undefined {
    return this.options.journal;
  }

  /** @internal */
  get busSettings(): BusSettings {
    return this.settings;
  }

  /** @internal */
  get logger(): Logger {
    return this.options.logger;
  }

  private forgetExpiredIds(now: number) {
    for (const [id, entry] of this.seen) {
      if (now - entry.at <= this.settings.duplicateWindowMs) break;
      this.seen.delete(id);
    }
  }
}

/**
 * One durable consumer: a position in the log, the messages taken but not yet settled
 * (acknowledged or dead-lettered), and pending redeliveries. The position saved to the
 * journal is the highest one below every unsettled message: after a restart, delivery
 * resumes there (a message settled out of order may come again: at least once).
 */
class InProcessConsumer {
  private cursor: number;
  private savedCursor: number;
  private readonly unsettled = new Set<number>();
  private readonly redeliveries: Redelivery[] = [];
  private readonly attached = new Set<InProcessSubscription>();
  private running?: Promise<void>;
  private wakeUp?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly durable: string,
    readonly subject: string,
    private readonly bus: InProcessBus,
  ) {
    this.cursor = bus.journal?.cursor(durable) ?? 0;
    this.savedCursor = this.cursor;
  }

  settle(sequence: number) {
    this.unsettled.delete(sequence);
    const journal = this.bus.journal;
    if (!journal) return;
    const settledUpTo = this.unsettled.size > 0 ? Math.min(...this.unsettled) - 1 : this.cursor;
    if (settledUpTo > this.savedCursor) {
      journal.saveCursor(this.durable, settledUpTo);
      this.savedCursor = settledUpTo;
    }
  }

  attach(options: SubscribeOptions): BusSubscription {
    const subscription = new InProcessSubscription(options, this);
    this.attached.add(subscription);
    if (!this.running) this.running = this.loop().finally(() => (this.running = undefined));
    else this.wake();
    return subscription;
  }

  async detach(subscription: InProcessSubscription): Promise<void> {
    this.attached.delete(subscription);
    this.wake();
    if (this.attached.size === 0) await this.running;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.attached].map((subscription) => subscription.stop()));
  }

  wake() {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private async loop(): Promise<void> {
    let turn = 0;
    while (this.attached.size > 0) {
      const next = this.takeNext();
      if (!next) {
        await this.sleepUntilWoken();
        continue;
      }
      // Replicas sharing a durable share the work, one delivery each in turn.
      const subscriptions = [...this.attached];
      const subscription = subscriptions[turn++ % subscriptions.length];
      const batch = [next];
      while (batch.length < subscription.maxBatch) {
        const more = this.takeNext();
        if (!more) break;
        batch.push(more);
      }
      await subscription.deliver(batch);
    }
  }

  private takeNext(): Taken | undefined {
    const now = Date.now();
    const dueIndex = this.redeliveries.findIndex((redelivery) => redelivery.dueAt <= now);
    if (dueIndex >= 0) {
      const [due] = this.redeliveries.splice(dueIndex, 1);
      return { message: due.message, deliveryCount: due.deliveryCount };
    }
    const message = this.bus.nextMatching(this.cursor, this.subject);
    if (!message) {
      this.cursor = Math.max(this.cursor, this.bus.lastSequence);
      return undefined;
    }
    this.cursor = message.sequence;
    this.unsettled.add(message.sequence);
    return { message, deliveryCount: 1 };
  }

  scheduleRedelivery(message: StoredMessage, deliveryCount: number, delayMs: number) {
    this.redeliveries.push({ message, deliveryCount, dueAt: Date.now() + delayMs });
  }

  private sleepUntilWoken(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      const soonest = Math.min(...this.redeliveries.map((redelivery) => redelivery.dueAt));
      if (Number.isFinite(soonest)) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.wake(), Math.max(0, soonest - Date.now()));
        this.timer.unref();
      }
    });
  }

  get settings(): BusSettings {
    return this.bus.busSettings;
  }

  get logger(): Logger {
    return this.bus.logger;
  }

  publishDeadLetter(letter: OutgoingMessage) {
    return this.bus.publish(letter);
  }
}

class InProcessSubscription implements BusSubscription {
  readonly durable: string;
  private stopped = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SubscribeOptions,
    private readonly consumer: InProcessConsumer,
  ) {
    this.durable = options.durable;
  }

  /** 1 without a batch handler: the consumer then takes one message at a time. */
  get maxBatch(): number {
    return this.options.batchHandler ? (this.options.maxBatch ?? DEFAULT_MAX_BATCH) : 1;
  }

  async deliver(batch: Taken[]): Promise<void> {
    if (this.stopped) {
      for (const { message, deliveryCount } of batch) this.consumer.scheduleRedelivery(message, deliveryCount, 0);
      return;
    }
    const work = this.options.batchHandler ? this.handleBatch(batch) : this.handle(batch[0].message, batch[0].deliveryCount);
    this.inFlight = work;
    await work;
  }

  private async handleBatch(batch: Taken[]): Promise<void> {
    const maxDeliver = this.options.maxDeliver ?? this.consumer.settings.maxDeliver;
    const delivered = batch.map(({ message, deliveryCount }) => toDelivered(message, deliveryCount));
    const error = await runBatch(delivered, this.durable, this.options.batchHandler!, maxDeliver);
    if (!error) {
      for (const { message } of batch) this.consumer.settle(message.sequence);
      return;
    }
    if (batch.length > 1) {
      this.consumer.logger.warn({ err: error, durable: this.durable, size: batch.length }, 'batch failed; handling its messages one by one');
    }
    for (const { message, deliveryCount } of batch) await this.handle(message, deliveryCount);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.inFlight;
    await this.consumer.detach(this);
  }

  private async handle(stored: StoredMessage, deliveryCount: number): Promise<void> {
    const settings = this.consumer.settings;
    const message = toDelivered(stored, deliveryCount);
    const outcome = await runDelivery(message, this.durable, this.options.handler, {
      maxDeliver: this.options.maxDeliver ?? settings.maxDeliver,
      backoffMs: this.options.backoffMs ?? settings.backoffMs,
      maxBackoffMs: settings.maxBackoffMs,
    });
    logOutcome(this.consumer.logger, message, this.durable, outcome);
    if (outcome.kind === 'retry') {
      this.consumer.scheduleRedelivery(stored, deliveryCount + 1, outcome.delayMs);
      return;
    }
    if (outcome.kind === 'dead-letter') {
      await this.consumer.publishDeadLetter(deadLetterFor(message, this.durable, settings.subjectPrefix, outcome.error));
    }
    this.consumer.settle(stored.sequence);
  }
}

function toDelivered(stored: StoredMessage, deliveryCount: number): DeliveredMessage {
  return {
    id: stored.id,
    subject: stored.subject,
    data: JSON.parse(stored.payload),
    headers: { ...stored.headers },
    deliveryCount,
  };
}
