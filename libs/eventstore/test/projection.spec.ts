import type { EntityManager } from 'typeorm';
import {
  Checkpoints,
  type Database,
  EventFeed,
  EventStore,
  type Projection,
  ProjectionRunner,
  type RecordedEvent,
  projectionCheckpointName,
} from '@co/eventstore';
import { DIALECTS, openTestDatabase, type TestDatabase } from '../../../test/support/databases';
import { silentLogger } from '../../../test/support/infra';

/** Per stream: how many events, the last type, the sum of `amount`. */
class StreamTotals implements Projection {
  readonly name = 'stream-totals';
  applied = 0;

  constructor(private readonly db: Database) {}

  async apply(event: RecordedEvent, manager: EntityManager): Promise<void> {
    this.applied++;
    const amount = Number((event.data as { amount?: number }).amount ?? 0);
    const [existing] = await manager.query('SELECT events FROM stream_totals WHERE stream_id = ?', [event.streamId]);
    if (existing) {
      await manager.query(
        'UPDATE stream_totals SET events = events + 1, total = total + ?, last_type = ?, last_position = ? WHERE stream_id = ?',
        [amount, event.type, event.position, event.streamId],
      );
    } else {
      await manager.query(
        'INSERT INTO stream_totals (stream_id, events, total, last_type, last_position) VALUES (?, 1, ?, ?, ?)',
        [event.streamId, amount, event.type, event.position],
      );
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM stream_totals');
  }

  async snapshot() {
    return this.db.query<unknown[]>(
      'SELECT stream_id, events, total, last_type, last_position FROM stream_totals ORDER BY stream_id',
    );
  }
}

describe.each(DIALECTS)('projections on %s', (dialect) => {
  let database: TestDatabase;
  let store: EventStore;
  let checkpoints: Checkpoints;

  beforeEach(async () => {
    database = await openTestDatabase(dialect);
    await database.db.query(
      'CREATE TABLE stream_totals (stream_id VARCHAR(100) PRIMARY KEY, events INT NOT NULL, total INT NOT NULL, last_type VARCHAR(100) NOT NULL, last_position BIGINT NOT NULL)',
    );
    store = new EventStore(database.db);
    checkpoints = new Checkpoints(database.db);
  });

  afterEach(() => database.cleanup());

  async function appendRound(round: number) {
    for (let stream = 0; stream < 8; stream++) {
      const version = await store.streamVersion(`acct-${stream}`);
      await store.append(
        `acct-${stream}`,
        version === 0 ? 'no-stream' : version,
        [...Array((stream % 3) + 1).keys()].map((index) => ({
          type: index % 2 ? 'Withdrawn' : 'Deposited',
          data: { amount: round * 10 + stream + index },
        })),
      );
    }
  }

  it('builds incrementally, applies each event once, and a rebuild from zero gives the same read model', async () => {
    const projection = new StreamTotals(database.db);
    const runner = new ProjectionRunner(database.db, store, checkpoints, [projection], { logger: silentLogger });
    for (let round = 1; round <= 5; round++) {
      await appendRound(round);
      await runner.catchUp(projection.name);
      // Catching up again with nothing new applies nothing.
      const applied = projection.applied;
      await runner.catchUp(projection.name);
      expect(projection.applied).toBe(applied);
    }
    const head = await store.headPosition();
    expect(await checkpoints.get(projectionCheckpointName(projection))).toBe(head);
    const incremental = await projection.snapshot();
    expect(incremental).toHaveLength(8);
    expect(projection.applied).toBe(5 * [...Array(8).keys()].reduce((sum, stream) => sum + (stream % 3) + 1, 0));

    // A runner started later (a restarted service) resumes from the checkpoint.
    const restarted = new StreamTotals(database.db);
    await new ProjectionRunner(database.db, store, checkpoints, [restarted], { logger: silentLogger }).catchUp(restarted.name);
    expect(restarted.applied).toBe(0);

    expect(await runner.rebuild(projection.name)).toBe(head);
    expect(await projection.snapshot()).toEqual(incremental);
  });

  it('notices a rebuild started elsewhere and replays from zero instead of skipping events', async () => {
    const projection = new StreamTotals(database.db);
    const service = new ProjectionRunner(database.db, store, checkpoints, [projection], { logger: silentLogger });
    await appendRound(1);
    await service.catchUp(projection.name);
    const expected = async () => {
      const reference = new StreamTotals(database.db);
      await database.db.query('DELETE FROM stream_totals');
      await new ProjectionRunner(database.db, store, checkpoints, [reference], { logger: silentLogger }).rebuild(reference.name);
      return reference.snapshot();
    };
    // The rebuild command has emptied the read model and reset the checkpoint, and has
    // not caught up yet, when the service's runner sees new events.
    await database.db.transaction(async (manager) => {
      await projection.reset(manager);
      await checkpoints.save(projectionCheckpointName(projection), 0, manager);
    });
    await appendRound(2);
    expect(await service.catchUp(projection.name)).toBe(await store.headPosition());
    const caughtUp = await projection.snapshot();
    expect(caughtUp).toEqual(await expected());
  });

  it('hands whole batches to a projection that applies them at once', async () => {
    await appendRound(1);
    await appendRound(2);
    const batches: number[][] = [];
    const batched: Projection = {
      name: 'batched',
      apply: async () => {
        throw new Error('apply is not used when applyBatch exists');
      },
      applyBatch: async (events) => void batches.push(events.map((event) => event.position)),
      reset: async () => undefined,
    };
    const head = await store.headPosition();
    await new ProjectionRunner(database.db, store, checkpoints, [batched], { logger: silentLogger, feed: { batchSize: 20 } }).catchUp(
      'batched',
    );
    const positions = batches.flat();
    expect(positions).toEqual((await store.readAll(0, 1000)).map((event) => event.position));
    expect(positions[positions.length - 1]).toBe(head);
    expect(batches.length).toBe(Math.ceil(positions.length / 20));
  });

  it("appends at the end with 'any' when several writers race on one stream", async () => {
    const results = await Promise.all(
      [...Array(8).keys()].map((index) => store.append('acct-busy', 'any', [{ type: 'Deposited', data: { amount: index } }])),
    );
    expect(results.map(([event]) => event.streamVersion).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps running in the background and lets a caller wait for its own write', async () => {
    const projection = new StreamTotals(database.db);
    const runner = new ProjectionRunner(database.db, store, checkpoints, [projection], { logger: silentLogger, pollIntervalMs: 60_000 });
    runner.start();
    try {
      const [event] = await store.append('acct-live', 'no-stream', [{ type: 'Deposited', data: { amount: 5 } }]);
      await runner.waitFor(event.position);
      expect(await projection.snapshot()).toEqual([
        expect.objectContaining({ stream_id: 'acct-live', last_type: 'Deposited' }),
      ]);
    } finally {
      await runner.stop();
    }
  });

  it('rolls back the read model and the checkpoint together when apply fails', async () => {
    await appendRound(1);
    const failing: Projection = {
      name: 'failing',
      apply: async (event, manager) => {
        await manager.query('INSERT INTO stream_totals (stream_id, events, total, last_type, last_position) VALUES (?, 1, 0, ?, ?)', [
          `${event.streamId}-${event.streamVersion}`,
          event.type,
          event.position,
        ]);
        if (event.streamId === 'acct-5') throw new Error('cannot apply');
      },
      reset: async (manager) => void (await manager.query('DELETE FROM stream_totals')),
    };
    const runner = new ProjectionRunner(database.db, store, checkpoints, [failing], { logger: silentLogger });
    await expect(runner.catchUp('failing')).rejects.toThrow('cannot apply');
    expect(await checkpoints.get(projectionCheckpointName('failing'))).toBe(0);
    expect(await database.db.query<unknown[]>('SELECT * FROM stream_totals')).toEqual([]);
  });
});

describe('event feed on MariaDB', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openTestDatabase('mysql');
  });

  afterEach(() => database.cleanup());

  it('waits for a transaction that commits a lower position late, and passes a hole that never fills', async () => {
    const store = new EventStore(database.db);
    const feed = new EventFeed(store, { batchSize: 100, gapGraceMs: 300, lateWindowMs: 60_000 });
    const [first] = await store.append('a-1', 'no-stream', [{ type: 'A', data: {} }]);

    // A slow transaction takes the next position but has not committed yet.
    const slow = database.db.dataSource.createQueryRunner();
    await slow.connect();
    await slow.startTransaction();
    await slow.query(
      "INSERT INTO co_events (event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at) VALUES ('00000000-0000-4000-8000-000000000001', 'slow-1', 1, 'Slow', 1, '{}', '{}', NOW(6))",
    );
    const [after] = await store.append('a-2', 'no-stream', [{ type: 'B', data: {} }]);

    const waiting = await feed.next(0);
    expect(waiting.events.map((event) => event.position)).toEqual([first.position]);
    expect(feed.waitingForHole).toBe(true);
    const stillWaiting = await feed.next(first.position);
    expect(stillWaiting.events).toEqual([]);

    await slow.commitTransaction();
    await slow.release();
    const filled = await feed.next(first.position);
    expect(filled.events.map((event) => event.type)).toEqual(['Slow', 'B']);
    expect(filled.checkpoint).toBe(after.position);

    // A rolled-back insert burns a position for good: passed after the grace period.
    const rolledBack = database.db.dataSource.createQueryRunner();
    await rolledBack.connect();
    await rolledBack.startTransaction();
    await rolledBack.query(
      "INSERT INTO co_events (event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at) VALUES ('00000000-0000-4000-8000-000000000002', 'gone-1', 1, 'Gone', 1, '{}', '{}', NOW(6))",
    );
    await rolledBack.rollbackTransaction();
    await rolledBack.release();
    const [last] = await store.append('a-3', 'no-stream', [{ type: 'C', data: {} }]);
    expect((await feed.next(after.position)).events).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const passed = await feed.next(after.position);
    expect(passed.events.map((event) => event.position)).toEqual([last.position]);
    expect(feed.waitingForHole).toBe(false);
  });
});
