/**
 * The event bus port. Two adapters honour one contract:
 * - at-least-once delivery to each durable consumer, explicit acknowledgement;
 * - messages of one subject are delivered to a consumer in publish order (a message
 *   that is redelivered after a failure may arrive after later ones, as in JetStream);
 * - a publish with an id already seen inside the de-duplication window is absorbed;
 * - a handler that throws gets the message again after a backoff; after `maxDeliver`
 *   failed deliveries it is moved to the dead-letter subject with its error.
 */
export interface OutgoingMessage {
  /** Unique id; doubles as the de-duplication key (JetStream `Nats-Msg-Id`). */
  id: string;
  subject: string;
  data: unknown;
  headers?: Record<string, string>;
}

export interface PublishResult {
  /** True when the bus had already seen this id and dropped the copy. */
  duplicate: boolean;
  sequence: number;
}

export interface DeliveredMessage<T = unknown> {
  id: string;
  subject: string;
  data: T;
  headers: Record<string, string>;
  /** 1 on first delivery. */
  deliveryCount: number;
}

export type MessageHandler = (message: DeliveredMessage) => Promise<void>;

export type BatchHandler = (messages: DeliveredMessage[]) => Promise<void>;

export interface SubscribeOptions {
  /** Durable consumer name: replicas sharing it share the work. */
  durable: string;
  /** One subject, wildcards allowed (`co.pilotage.run.>`). */
  subject: string;
  handler: MessageHandler;
  /** Overrides the bus-wide number of deliveries before dead-lettering. */
  maxDeliver?: number;
  /** Overrides the bus-wide base backoff; the n-th retry waits base·2^(n-1), capped. */
  backoffMs?: number;
  /**
   * Optional: takes, at once and in order, up to `maxBatch` messages that are already
   * waiting (one transaction for many messages instead of one each). When it throws,
   * every message of that batch is handled again alone by `handler`, so a bad message
   * is retried and dead-lettered on its own while the others go through.
   */
  batchHandler?: BatchHandler;
  /** Largest batch handed to `batchHandler` (default 100). */
  maxBatch?: number;
}

export const DEFAULT_MAX_BATCH = 100;

export interface BusSubscription {
  readonly durable: string;
  /** Stops taking messages and waits for the one in flight. */
  stop(): Promise<void>;
}

export interface EventBus {
  readonly kind: 'nats' | 'in-process';
  connect(): Promise<void>;
  /** Declares (idempotently) the stream that holds one service's events. */
  ensureStream(service: string): Promise<void>;
  publish(message: OutgoingMessage): Promise<PublishResult>;
  subscribe(options: SubscribeOptions): Promise<BusSubscription>;
  /** Resolves when the bus answers; used by readiness checks. */
  ping(): Promise<void>;
  /** Stops every subscription, waits for in-flight handlers, closes the connection. */
  close(): Promise<void>;
}

export const EVENT_BUS = Symbol('EVENT_BUS');

export interface BusSettings {
  /** First token of every subject and of stream names (`co`). */
  subjectPrefix: string;
  /** Deliveries before a failing message is dead-lettered. */
  maxDeliver: number;
  /** Base of the exponential redelivery backoff. */
  backoffMs: number;
  /** Upper bound of one backoff step. */
  maxBackoffMs: number;
  /** Window in which a repeated message id is dropped. */
  duplicateWindowMs: number;
}

export const DEFAULT_BUS_SETTINGS: BusSettings = {
  subjectPrefix: 'co',
  maxDeliver: 5,
  backoffMs: 1000,
  maxBackoffMs: 60_000,
  duplicateWindowMs: 120_000,
};

/** The defaults, overridden by whatever of `overrides` is defined. */
export function busSettings(overrides: Partial<BusSettings>): BusSettings {
  const defined = Object.entries(overrides).filter(([key, value]) => key in DEFAULT_BUS_SETTINGS && value !== undefined);
  return { ...DEFAULT_BUS_SETTINGS, ...Object.fromEntries(defined) };
}

export class BusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusError';
  }
}
