import {
  AckPolicy,
  connect,
  DeliverPolicy,
  headers as natsHeaders,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from 'nats';
import type { Logger } from 'pino';
import { SpanKind, extractTraceContext, injectTraceHeaders, withSpan } from '@co/telemetry';
import {
  BusError,
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
import { deadLetterFor, logOutcome, runBatch, runDelivery } from './delivery';
import {
  deadLetterStreamName,
  serviceOfSubject,
  serviceStreamName,
  serviceSubjects,
} from './subjects';

export interface NatsBusOptions extends Partial<BusSettings> {
  servers: string;
  /** Connection name shown by the NATS server (`co-pilotage`). */
  connectionName: string;
  logger: Logger;
  /** How long JetStream waits for an ack before redelivering (a consumer that died). */
  ackWaitMs?: number;
  /** Messages pulled ahead per subscription. */
  prefetch?: number;
}

const STREAM_NAME_IN_USE = 10058;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JetStream adapter: file-backed streams, durable pull consumers, explicit acks. */
export class NatsJetStreamBus implements EventBus {
  readonly kind = 'nats' as const;
  private readonly settings: BusSettings;
  private connection?: NatsConnection;
  private jetstream?: JetStreamClient;
  private manager?: JetStreamManager;
  private readonly ensuredStreams = new Map<string, Promise<void>>();
  private readonly subscriptions = new Set<NatsSubscription>();

  constructor(private readonly options: NatsBusOptions) {
    this.settings = busSettings(options);
  }

  async connect(): Promise<void> {
    if (this.connection) return;
    const servers = this.options.servers.split(',');
    try {
      this.connection = await connect({
        servers,
        name: this.options.connectionName,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
      });
    } catch (error) {
      throw new BusError(`cannot connect to NATS at ${this.options.servers}: ${(error as Error).message}`);
    }
    this.jetstream = this.connection.jetstream();
    this.manager = await this.connection.jetstreamManager();
    await this.declareStream(deadLetterStreamName(this.settings.subjectPrefix), `${this.settings.subjectPrefix}.dlq.>`);
  }

  ensureStream(service: string): Promise<void> {
    const name = serviceStreamName(this.settings.subjectPrefix, service);
    let declared = this.ensuredStreams.get(name);
    if (!declared) {
      declared = this.declareStream(name, serviceSubjects(this.settings.subjectPrefix, service));
      declared.catch(() => this.ensuredStreams.delete(name));
      this.ensuredStreams.set(name, declared);
    }
    return declared;
  }

  async publish(message: OutgoingMessage): Promise<PublishResult> {
    const jetstream = this.requireJetStream();
    const headers = natsHeaders();
    for (const [key, value] of Object.entries(message.headers ?? {})) headers.set(key, value);
    const ack = await jetstream.publish(message.subject, encoder.encode(JSON.stringify(message.data)), {
      msgID: message.id,
      headers,
    });
    return { duplicate: ack.duplicate, sequence: ack.seq };
  }

  async subscribe(options: SubscribeOptions): Promise<BusSubscription> {
    const manager = this.requireManager();
    const service = serviceOfSubject(options.subject);
    await this.ensureStream(service);
    const stream = serviceStreamName(this.settings.subjectPrefix, service);
    const config: Partial<ConsumerConfig> = {
      durable_name: options.durable,
      filter_subject: options.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs ?? 30_000),
      // Redelivery limits are enforced by runDelivery, so that the last failure is
      // dead-lettered with its error instead of silently dropped by the server.
      max_deliver: -1,
      max_ack_pending: 1000,
    };
    try {
      await manager.consumers.add(stream, config);
    } catch (error) {
      // Same durable with other settings (e.g. a new ack wait): update it in place.
      await manager.consumers.update(stream, options.durable, {
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
      }).catch(() => {
        throw new BusError(`cannot declare consumer ${options.durable} on ${stream}: ${(error as Error).message}`);
      });
    }
    const consumer = await this.requireJetStream().consumers.get(stream, options.durable);
    const messages = await consumer.consume({ max_messages: this.options.prefetch ?? 64 });
    const subscription = new NatsSubscription(options, messages, this.settings, this.options.logger, (letter) =>
      this.publish(letter).then(() => undefined),
    );
    this.subscriptions.add(subscription);
    subscription.done.finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async ping(): Promise<void> {
    const connection = this.connection;
    if (!connection || connection.isClosed()) throw new BusError('NATS connection is closed');
    await connection.flush();
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    const connection = this.connection;
    this.connection = undefined;
    if (connection && !connection.isClosed()) await connection.drain();
  }

  private async declareStream(name: string, subject: string): Promise<void> {
    const manager = this.requireManager();
    const config: Partial<StreamConfig> = {
      name,
      subjects: [subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(this.settings.duplicateWindowMs),
    };
    try {
      await manager.streams.add(config);
    } catch (error) {
      const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
      if (code !== STREAM_NAME_IN_USE) {
        throw new BusError(`cannot declare JetStream stream ${name}: ${(error as Error).message}`);
      }
      // Declared earlier with other limits: keep its data, align the settings we own.
      const info = await manager.streams.info(name);
      await manager.streams.update(name, {
        ...info.config,
        subjects: [subject],
        duplicate_window: config.duplicate_window,
      });
    }
  }

  private requireJetStream(): JetStreamClient {
    if (!this.jetstream) throw new BusError('the NATS bus is not connected');
    return this.jetstream;
  }

  private requireManager(): JetStreamManager {
    if (!this.manager) throw new BusError('the NATS bus is not connected');
    return this.manager;
  }
}

class NatsSubscription implements BusSubscription {
  readonly durable: string;
  readonly done: Promise<void>;

  constructor(
    private readonly options: SubscribeOptions,
    private readonly messages: ConsumerMessages,
    private readonly settings: BusSettings,
    private readonly logger: Logger,
    private readonly deadLetter: (letter: OutgoingMessage) => Promise<void>,
  ) {
    this.durable = options.durable;
    this.done = this.run();
  }

  async stop(): Promise<void> {
    // Unacknowledged prefetched messages return to the stream after the ack wait.
    this.messages.stop();
    await this.done;
  }

  private async run(): Promise<void> {
    const iterator = this.messages[Symbol.asyncIterator]();
    // A message asked for while filling a batch that had not arrived yet: it opens the
    // next batch, so that nothing is waited for while messages are in hand.
    let pending: Promise<IteratorResult<JsMsg>> | undefined;
    for (;;) {
      const first = await (pending ?? iterator.next());
      pending = undefined;
      if (first.done) return;
      if (!this.options.batchHandler) {
        await this.handle(first.value);
        continue;
      }
      const batch = [first.value];
      const max = this.options.maxBatch ?? DEFAULT_MAX_BATCH;
      let ended = false;
      while (batch.length < max) {
        const next = iterator.next();
        // Buffered messages resolve within microtasks, before the next macrotask.
        const result = await Promise.race([next, new Promise<'later'>((resolve) => setImmediate(() => resolve('later')))]);
        if (result === 'later') {
          pending = next;
          break;
        }
        if (result.done) {
          ended = true;
          break;
        }
        batch.push(result.value);
      }
      await this.handleBatch(batch);
      if (ended) return;
    }
  }

  private async handleBatch(raws: JsMsg[]): Promise<void> {
    const messages = raws.map(toDelivered);
    const error = await runBatch(messages, this.durable, this.options.batchHandler!, this.maxDeliver);
    if (!error) {
      for (const raw of raws) raw.ack();
      return;
    }
    if (raws.length > 1) {
      this.logger.warn({ err: error, durable: this.durable, size: raws.length }, 'batch failed; handling its messages one by one');
    }
    for (const raw of raws) await this.handle(raw);
  }

  private get maxDeliver(): number {
    return this.options.maxDeliver ?? this.settings.maxDeliver;
  }

  private async handle(raw: JsMsg): Promise<void> {
    const message = toDelivered(raw);
    const settings = {
      maxDeliver: this.maxDeliver,
      backoffMs: this.options.backoffMs ?? this.settings.backoffMs,
      maxBackoffMs: this.settings.maxBackoffMs,
    };
    const outcome = await runDelivery(message, this.durable, this.options.handler, settings);
    logOutcome(this.logger, message, this.durable, outcome);
    try {
      if (outcome.kind === 'ack') {
        raw.ack();
      } else if (outcome.kind === 'retry') {
        raw.nak(outcome.delayMs);
      } else {
        const letter = deadLetterFor(message, this.durable, this.settings.subjectPrefix, outcome.error);
        // The dead letter stays in the trace of the message it carries.
        const parent = extractTraceContext(message.headers);
        await withSpan(`${letter.subject} publish`, { kind: SpanKind.PRODUCER, parent }, () =>
          this.deadLetter({ ...letter, headers: injectTraceHeaders({ ...letter.headers }) }),
        );
        raw.term(outcome.error.message.slice(0, 200));
      }
    } catch (error) {
      // Not acknowledged: JetStream redelivers after the ack wait, and we try again.
      this.logger.error({ err: error, subject: message.subject, durable: this.durable }, 'cannot settle message');
    }
  }
}

function toDelivered(raw: JsMsg): DeliveredMessage {
  const headers: Record<string, string> = {};
  if (raw.headers) {
    for (const [key, values] of raw.headers) headers[key] = values[0];
  }
  let data: unknown;
  try {
    data = JSON.parse(decoder.decode(raw.data));
  } catch {
    data = decoder.decode(raw.data);
  }
  return {
    id: headers['Nats-Msg-Id'] ?? `${raw.info.stream}:${raw.seq}`,
    subject: raw.subject,
    data,
    headers,
    deliveryCount: raw.info.deliveryCount,
  };
}

