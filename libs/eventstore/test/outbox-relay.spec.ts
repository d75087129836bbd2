import { InProcessBus, NatsJetStreamBus, type EventBus, type OutgoingMessage, type PublishResult } from '@co/bus';
import {
  Checkpoints,
  type Database,
  type Dialect,
  type EventEnvelope,
  EventStore,
  OutboxRelay,
  handleOnce,
  handleOnceBatch,
  subscribeToEvents,
} from '@co/eventstore';
import { openTestDatabase, type TestDatabase } from '../../../test/support/databases';
import { NATS_URL, deleteStreams, eventually, silentLogger, uniqueName } from '../../../test/support/infra';

/** Checkpoints whose first save fails: the relay "dies" after publishing, before recording it. */
class CrashBeforeCheckpoint extends Checkpoints {
  override async save(): Promise<void> {
    throw new Error('killed between publish and checkpoint');
  }
}

/** Records what the bus answered to each publish. */
function recordingBus(bus: EventBus, results: PublishResult[]): EventBus {
  return Object.assign(Object.create(bus) as EventBus, {
    publish: async (message: OutgoingMessage) => {
      const result = await bus.publish(message);
      results.push(result);
      return result;
    },
  });
}

async function createAppliedTable(db: Database) {
  await db.query(
    db.dialect === 'mysql'
      ? 'CREATE TABLE applied (id INT AUTO_INCREMENT PRIMARY KEY, event_id VARCHAR(64) NOT NULL, position BIGINT NOT NULL)'
      : 'CREATE TABLE applied (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, position INTEGER NOT NULL)',
  );
}

async function appliedCounts(db: Database): Promise<Map<string, number>> {
  const rows = await db.query<{ event_id: string; copies: number | string }[]>(
    'SELECT event_id, COUNT(*) AS copies FROM applied GROUP BY event_id',
  );
  return new Map(rows.map((row) => [row.event_id, Number(row.copies)]));
}

interface Setup {
  label: string;
  dialect: Dialect;
  bus: 'nats' | 'in-process';
}

const SETUPS: Setup[] = [
  { label: 'MariaDB + NATS JetStream', dialect: 'mysql', bus: 'nats' },
  { label: 'SQLite + in-process bus', dialect: 'sqlite', bus: 'in-process' },
];

describe.each(SETUPS)('outbox relay on $label', ({ dialect, bus: busKind }) => {
  let producer: TestDatabase;
  let consumer: TestDatabase;
  let prefix: string;
  const buses: EventBus[] = [];

  function newBus(duplicateWindowMs?: number): EventBus {
    const settings = { subjectPrefix: prefix, maxDeliver: 5, backoffMs: 20, logger: silentLogger, duplicateWindowMs };
    const bus =
      busKind === 'nats'
        ? new NatsJetStreamBus({ ...settings, servers: NATS_URL, connectionName: 'relay-test' })
        : new InProcessBus(settings);
    buses.push(bus);
    return bus;
  }

  beforeEach(async () => {
    prefix = uniqueName('t');
    producer = await openTestDatabase(dialect);
    consumer = await openTestDatabase(dialect);
    await createAppliedTable(consumer.db);
  });

  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    await producer.cleanup();
    await consumer.cleanup();
    if (busKind === 'nats') await deleteStreams(prefix);
  });

  async function scenario(duplicateWindowMs: number | undefined, pauseBeforeRestartMs: number, batch = false) {
    const bus = newBus(duplicateWindowMs);
    await bus.connect();
    await bus.ensureStream('producer');
    const store = new EventStore(producer.db);
    const appended = [];
    for (let stream = 0; stream < 10; stream++) {
      appended.push(
        ...(await store.append(
          `run-${stream}`,
          'no-stream',
          [...Array(5).keys()].map((index) => ({ type: 'TaskFinished', data: { stream, index } })),
        )),
      );
    }
    const insert = (events: EventEnvelope[], manager: { query: (sql: string, parameters: unknown[]) => Promise<unknown> }) =>
      manager.query(
        `INSERT INTO applied (event_id, position) VALUES ${events.map(() => '(?, ?)').join(', ')}`,
        events.flatMap((event) => [event.id, event.position]),
      );
    await subscribeToEvents(
      bus,
      consumer.db,
      batch
        ? { durable: 'consumer-projection', subject: `${prefix}.producer.>`, handleBatch: async (events, manager) => void (await insert(events, manager)) }
        : { durable: 'consumer-projection', subject: `${prefix}.producer.>`, handle: async (event, manager) => void (await insert([event], manager)) },
    );

    const options = { service: 'producer', subjectPrefix: prefix, logger: silentLogger };
    const firstResults: PublishResult[] = [];
    const crashed = new OutboxRelay(store, recordingBus(bus, firstResults), new CrashBeforeCheckpoint(producer.db), options);
    await expect(crashed.drainOnce()).rejects.toThrow('killed between publish and checkpoint');
    expect(firstResults).toHaveLength(50);
    expect(await new Checkpoints(producer.db).get('relay:outbox')).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, pauseBeforeRestartMs));
    const secondResults: PublishResult[] = [];
    const restarted = new OutboxRelay(store, recordingBus(bus, secondResults), new Checkpoints(producer.db), options);
    expect(await restarted.drainOnce()).toBe(50);
    expect(await new Checkpoints(producer.db).get('relay:outbox')).toBe(appended[appended.length - 1].position);

    await eventually(async () => (await appliedCounts(consumer.db)).size === 50, 15_000, 'all 50 events applied');
    // Give any duplicate delivery time to arrive before counting copies.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const counts = await appliedCounts(consumer.db);
    expect([...counts.keys()].sort()).toEqual(appended.map((event) => event.id).sort());
    expect([...counts.values()].every((copies) => copies === 1)).toBe(true);
    return secondResults;
  }

  it('re-publishes after a crash between publish and checkpoint; the bus drops the copies and each event is applied once', async () => {
    const republished = await scenario(undefined, 0);
    expect(republished.every((result) => result.duplicate)).toBe(true);
  });

  it('applies each event once even when the copies arrive after the de-duplication window', async () => {
    const republished = await scenario(200, 400);
    // The bus no longer recognised them: the consumer's own idempotency absorbed them.
    expect(republished.some((result) => !result.duplicate)).toBe(true);
  });

  it('applies each event once through a batch consumer, copies included', async () => {
    const republished = await scenario(200, 400, true);
    expect(republished.some((result) => !result.duplicate)).toBe(true);
  });

  it('publishes appends as they happen once started, with subject, id and headers', async () => {
    const bus = newBus();
    await bus.connect();
    await bus.ensureStream('producer');
    const received: { subject: string; id: string; headers: Record<string, string>; data: EventEnvelope }[] = [];
    await bus.subscribe({
      durable: 'watcher',
      subject: `${prefix}.producer.>`,
      handler: async (message) => void received.push(message as never),
    });
    const store = new EventStore(producer.db);
    const relay = new OutboxRelay(store, bus, new Checkpoints(producer.db), {
      service: 'producer',
      subjectPrefix: prefix,
      logger: silentLogger,
      pollIntervalMs: 60_000,
    });
    relay.start();
    try {
      const [event] = await store.append('build-7', 'no-stream', [{ type: 'BuildQueued', data: { image: 'x' } }], {
        tenant: 'acme',
        actor: 'user:ada',
      });
      await eventually(async () => received.length === 1, 10_000, 'the relayed event');
      expect(received[0].subject).toBe(`${prefix}.producer.build.BuildQueued`);
      expect(received[0].id).toBe(event.id);
      expect(received[0].headers).toMatchObject({
        'Co-Tenant': 'acme',
        'Co-Actor': 'user:ada',
        'Co-Stream-Id': 'build-7',
        'Co-Event-Position': String(event.position),
      });
      expect(received[0].data).toMatchObject({ id: event.id, type: 'BuildQueued', data: { image: 'x' }, service: 'producer' });
    } finally {
      await relay.stop();
    }
  });
});

describe('handleOnceBatch', () => {
  it.each<Dialect>(['mysql', 'sqlite'])('runs the work on the messages not seen before, once, on %s', async (dialect) => {
    const database = await openTestDatabase(dialect);
    try {
      await createAppliedTable(database.db);
      const applied: string[][] = [];
      const work = async (fresh: { id: string }[]) => void applied.push(fresh.map((message) => message.id));
      expect(await handleOnceBatch(database.db, 'c', [{ id: 'a' }, { id: 'b' }], work)).toBe(2);
      expect(await handleOnceBatch(database.db, 'c', [{ id: 'b' }, { id: 'c' }, { id: 'c' }, { id: 'd' }], work)).toBe(2);
      expect(await handleOnceBatch(database.db, 'c', [{ id: 'a' }, { id: 'd' }], work)).toBe(0);
      expect(applied).toEqual([['a', 'b'], ['c', 'd']]);
      expect(await handleOnce(database.db, 'c', 'a', async () => undefined)).toBe(false);
      await expect(
        handleOnceBatch(database.db, 'c', [{ id: 'e' }], async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await handleOnceBatch(database.db, 'c', [{ id: 'e' }], work)).toBe(1);
    } finally {
      await database.cleanup();
    }
  });
});

describe('handleOnce', () => {
  it.each<Dialect>(['mysql', 'sqlite'])('runs the work for a message id once per consumer on %s', async (dialect) => {
    const database = await openTestDatabase(dialect);
    try {
      await createAppliedTable(database.db);
      const work = (manager: { query: (sql: string, parameters: unknown[]) => Promise<unknown> }) =>
        manager.query('INSERT INTO applied (event_id, position) VALUES (?, ?)', ['m-1', 1]).then(() => undefined);
      const results = await Promise.all([
        handleOnce(database.db, 'consumer-a', 'm-1', work),
        handleOnce(database.db, 'consumer-a', 'm-1', work),
      ]);
      expect(results.sort()).toEqual([false, true]);
      expect(await handleOnce(database.db, 'consumer-b', 'm-1', work)).toBe(true);
      expect((await appliedCounts(database.db)).get('m-1')).toBe(2);
      // Work that fails leaves no trace, so the redelivery runs it again.
      await expect(
        handleOnce(database.db, 'consumer-a', 'm-2', async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await handleOnce(database.db, 'consumer-a', 'm-2', work)).toBe(true);
    } finally {
      await database.cleanup();
    }
  });
});
