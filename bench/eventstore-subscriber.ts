/**
 * Child process of eventstore.bench.ts: "another service" that feeds the benchmark's
 * events into its own read model with subscribeToEvents, and reports to the parent
 * when each event's read-model transaction committed.
 *
 * Parent -> child: { type: 'ping', id } | { type: 'stop' }
 * Child -> parent: { type: 'ready' } | { type: 'pong', id, at } |
 *                  { type: 'applied', items: [eventId, at, transactionMs][] } | { type: 'stopped' } |
 *                  { type: 'error', message }
 * Times are epoch milliseconds with sub-millisecond precision (timeOrigin + now()).
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { EntityManager } from 'typeorm';
import { NatsJetStreamBus } from '@co/bus';
import { Database, subscribeToEvents, type EventEnvelope } from '@co/eventstore';
import { insertReadModelRows } from './read-model';

export interface SubscriberChildOptions {
  natsUrl: string;
  subjectPrefix: string;
  databaseUrl: string;
  durable: string;
  subject: string;
  table: string;
  logLevel: string;
}

type Applied = [string[], number, number];

const epochNow = () => performance.timeOrigin + performance.now();

function send(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function run(options: SubscriberChildOptions): Promise<void> {
  const logger = pino({ level: options.logLevel, base: { service: 'bench-subscriber' } }, pino.destination(2));
  const db = await Database.open({ url: options.databaseUrl });
  const bus = new NatsJetStreamBus({
    servers: options.natsUrl,
    connectionName: 'co-bench-readmodel',
    subjectPrefix: options.subjectPrefix,
    logger,
  });
  await bus.connect();

  let pending: Applied[] = [];
  const open = new WeakMap<EntityManager, string[]>();
  // A view of the database whose transactions report their commit time.
  const tracked = Object.create(db) as Database;
  tracked.transaction = async <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => {
    const ids: string[] = [];
    const began = performance.now();
    const result = await db.transaction(async (manager) => {
      open.set(manager, ids);
      return work(manager);
    });
    const at = epochNow();
    const duration = performance.now() - began;
    if (ids.length > 0) pending.push([ids, at, duration]);
    return result;
  };

  const subscription = await subscribeToEvents(bus, tracked, {
    durable: options.durable,
    subject: options.subject,
    handleBatch: async (events: EventEnvelope[], manager: EntityManager) => {
      await insertReadModelRows(options.table, events, manager);
      for (const event of events) open.get(manager)?.push(event.id);
    },
  });

  const flush = async () => {
    if (pending.length === 0) return;
    const items = pending;
    pending = [];
    await send({ type: 'applied', items });
  };
  const flusher = setInterval(() => void flush(), 20);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(flusher);
      await subscription.stop();
      await flush();
      await bus.close();
      await db.close();
      await send({ type: 'stopped' });
      process.disconnect?.();
    })());

  process.on('message', (message: { type: string; id?: number }) => {
    if (message.type === 'ping') void send({ type: 'pong', id: message.id, at: epochNow() });
    else if (message.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  await send({ type: 'ready' });
}

if (require.main === module) {
  const options = JSON.parse(process.env.BENCH_SUBSCRIBER_OPTIONS ?? '{}') as SubscriberChildOptions;
  run(options).catch(async (error: unknown) => {
    await send({ type: 'error', message: (error as Error)?.stack ?? String(error) });
    process.exit(1);
  });
}
