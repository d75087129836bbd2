import type { Logger } from 'pino';
import { eventSubject, type EventBus, type OutgoingMessage } from '@co/bus';
import { SpanKind, extractTraceContext, injectTraceHeaders, withSpan } from '@co/telemetry';
import type { Checkpoints } from './checkpoints';
import { DEFAULT_FEED_OPTIONS, EventFeed, type EventFeedOptions } from './event-feed';
import type { EventStore } from './event-store';
import { aggregateOf, type RecordedEvent } from './events';
import { NamedLock } from './named-lock';
import { WakeSignal } from './wake-signal';

const LOCK_CHECK_INTERVAL_MS = 5000;

export interface OutboxRelayOptions {
  /** The publishing service: first token after the prefix in every subject. */
  service: string;
  subjectPrefix: string;
  logger: Logger;
  /** Checkpoint name; one relay per service database. */
  name?: string;
  /** Fallback poll for appends made by other replicas (local appends wake the relay). */
  pollIntervalMs?: number;
  feed?: Partial<EventFeedOptions>;
}

/** Headers every published event carries besides `Nats-Msg-Id` and trace context. */
export const EVENT_HEADERS = {
  type: 'Co-Event-Type',
  schemaVersion: 'Co-Event-Schema-Version',
  streamId: 'Co-Stream-Id',
  streamVersion: 'Co-Stream-Version',
  position: 'Co-Event-Position',
  service: 'Co-Service',
  tenant: 'Co-Tenant',
  actor: 'Co-Actor',
  correlationId: 'Co-Correlation-Id',
  causationId: 'Co-Causation-Id',
} as const;

/** What a consumer receives as the message body. */
export interface EventEnvelope<T = Record<string, unknown>> extends Omit<RecordedEvent<T>, 'occurredAt'> {
  service: string;
  occurredAt: string;
}

/**
 * The event table is the outbox: the relay publishes every row past its checkpoint and
 * then stores the new checkpoint. A crash between the two re-publishes the same rows
 * with the same message ids, which JetStream's de-duplication window and idempotent
 * consumers absorb. On MySQL the relay holds a named lock so that of several
 * replicas of a service only one publishes at a time.
 */
export class OutboxRelay {
  private readonly signal = new WakeSignal();
  private readonly feed: EventFeed;
  private readonly checkpointName: string;
  private running?: Promise<void>;
  private stopping = false;
  private readonly lock: NamedLock;
  private lockCheckedAt = 0;
  /** The stored checkpoint, known while this relay is the only one publishing. */
  private checkpoint?: number;
  private unsubscribe?: () => void;
  private published = 0;

  constructor(
    private readonly store: EventStore,
    private readonly bus: EventBus,
    private readonly checkpoints: Checkpoints,
    private readonly options: OutboxRelayOptions,
  ) {
    this.feed = new EventFeed(store, { ...DEFAULT_FEED_OPTIONS, ...options.feed });
    this.checkpointName = `relay:${options.name ?? 'outbox'}`;
    this.lock = new NamedLock(store.db, this.checkpointName);
  }

  get publishedCount(): number {
    return this.published;
  }

  start(): void {
    if (this.running) return;
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

  /** Publishes everything committed so far; for tests and tools. */
  async drainOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      this.checkpoint ??= await this.checkpoints.get(this.checkpointName);
      const batch = await this.feed.next(this.checkpoint);
      if (batch.events.length === 0 && batch.late.length === 0) return total;
      await this.publishBatch([...batch.late, ...batch.events]);
      await this.checkpoints.save(this.checkpointName, batch.checkpoint);
      this.checkpoint = batch.checkpoint;
      total += batch.events.length + batch.late.length;
    }
  }

  private async run(): Promise<void> {
    const poll = this.options.pollIntervalMs ?? 500;
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!(await this.holdLeadership())) {
          await this.signal.sleep(Math.max(poll, 2000));
          continue;
        }
        const published = await this.drainOnce();
        failures = 0;
        // A hole in the positions is being waited for: look again soon.
        if (published === 0) await this.signal.sleep(this.feed.waitingForHole ? 20 : poll);
      } catch (error) {
        failures++;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.options.logger.error({ err: error, retryInMs: delay }, 'outbox relay failed; retrying');
        await this.signal.sleep(delay);
      }
    }
    await this.releaseLeadership();
  }

  private async publishBatch(events: RecordedEvent[]): Promise<void> {
    // JetStream keeps the order of publishes sent on one connection; sending a chunk
    // before awaiting its acks keeps throughput close to async publishing.
    const chunk = 100;
    for (let start = 0; start < events.length; start += chunk) {
      await Promise.all(events.slice(start, start + chunk).map((event) => this.publishEvent(event)));
      this.published += Math.min(chunk, events.length - start);
    }
  }

  private publishEvent(event: RecordedEvent): Promise<unknown> {
    const subject = eventSubject(this.options.subjectPrefix, this.options.service, aggregateOf(event.streamId), event.type);
    const parent = extractTraceContext({ traceparent: event.metadata.traceparent, tracestate: event.metadata.tracestate });
    return withSpan(
      `${subject} publish`,
      {
        kind: SpanKind.PRODUCER,
        parent,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.message.id': event.id },
      },
      () => this.bus.publish(toMessage(this.options.service, subject, event, injectTraceHeaders({}))),
    );
  }

  private async holdLeadership(): Promise<boolean> {
    if (this.store.db.dialect !== 'mysql') return true;
    if (this.lock.held) {
      // Checked now and then, not on every wake-up: a relay that lost its lock without
      // noticing publishes a few copies at most, which de-duplication absorbs.
      if (Date.now() - this.lockCheckedAt < LOCK_CHECK_INTERVAL_MS) return true;
      this.lockCheckedAt = Date.now();
      if (await this.lock.confirm()) return true;
    }
    if (!(await this.lock.tryAcquire())) return false;
    this.lockCheckedAt = Date.now();
    // Another replica may have published while this one did not hold the lock.
    this.checkpoint = undefined;
    return true;
  }

  private releaseLeadership(): Promise<void> {
    return this.lock.release();
  }
}

export function toMessage(
  service: string,
  subject: string,
  event: RecordedEvent,
  traceHeaders: Record<string, string>,
): OutgoingMessage {
  const headers: Record<string, string> = {
    ...traceHeaders,
    [EVENT_HEADERS.type]: event.type,
    [EVENT_HEADERS.schemaVersion]: String(event.schemaVersion),
    [EVENT_HEADERS.streamId]: event.streamId,
    [EVENT_HEADERS.streamVersion]: String(event.streamVersion),
    [EVENT_HEADERS.position]: String(event.position),
    [EVENT_HEADERS.service]: service,
  };
  const { tenant, actor, correlationId, causationId } = event.metadata;
  if (tenant) headers[EVENT_HEADERS.tenant] = tenant;
  if (actor) headers[EVENT_HEADERS.actor] = actor;
  if (correlationId) headers[EVENT_HEADERS.correlationId] = correlationId;
  if (causationId) headers[EVENT_HEADERS.causationId] = causationId;
  const envelope: EventEnvelope = { ...event, service, occurredAt: event.occurredAt.toISOString() };
  return { id: event.id, subject, data: envelope, headers };
}
