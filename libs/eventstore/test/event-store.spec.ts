import { context, trace } from '@opentelemetry/api';
import {
  ConcurrencyConflictError,
  DuplicateEventError,
  EventStore,
  InvalidEventError,
} from '@co/eventstore';
import { tracer } from '@co/telemetry';
import { DIALECTS, openTestDatabase, type TestDatabase } from '../../../test/support/databases';

describe.each(DIALECTS)('EventStore on %s', (dialect) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(dialect);
    store = new EventStore(database.db);
  });

  afterAll(() => database.cleanup());

  it('appends events and reads a stream back in version order with its metadata', async () => {
    const appended = await store.append(
      'run-1',
      'no-stream',
      [
        { type: 'RunQueued', data: { workflow: 'hello' } },
        { type: 'RunStarted', data: { at: 1 }, schemaVersion: 2 },
      ],
      { actor: 'user:ada', tenant: 'acme', correlationId: 'c-1' },
    );
    expect(appended.map((event) => event.streamVersion)).toEqual([1, 2]);
    expect(appended[1].position).toBeGreaterThan(appended[0].position);

    const read = await store.readStream('run-1');
    expect(read.map((event) => [event.type, event.streamVersion, event.schemaVersion])).toEqual([
      ['RunQueued', 1, 1],
      ['RunStarted', 2, 2],
    ]);
    expect(read[0].data).toEqual({ workflow: 'hello' });
    expect(read[0].metadata).toMatchObject({ actor: 'user:ada', tenant: 'acme', correlationId: 'c-1' });
    expect(read.map((event) => event.position)).toEqual(appended.map((event) => event.position));
    expect(read[0].occurredAt).toBeInstanceOf(Date);
    expect(await store.streamVersion('run-1')).toBe(2);
  });

  it('records the active trace context as the traceparent of the event', async () => {
    const span = tracer().startSpan('append-test');
    const [event] = await context.with(trace.setSpan(context.active(), span), () =>
      store.append('run-traced', 'no-stream', [{ type: 'RunQueued', data: {} }]),
    );
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(event.metadata.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    const [stored] = await store.readStream('run-traced');
    expect(stored.metadata.traceparent).toBe(event.metadata.traceparent);
  });

  it('rejects an append made against a stale version and writes nothing of it', async () => {
    await store.append('run-2', 'no-stream', [{ type: 'RunQueued', data: {} }]);
    await store.append('run-2', 1, [{ type: 'RunStarted', data: {} }]);
    const stale = store.append('run-2', 1, [{ type: 'RunCancelled', data: {} }, { type: 'RunFinished', data: {} }]);
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(stale).rejects.toMatchObject({ code: 'EVENTSTORE.CONCURRENCY_CONFLICT', actualVersion: 2, httpStatus: 409 });
    expect((await store.readStream('run-2')).map((event) => event.type)).toEqual(['RunQueued', 'RunStarted']);
    await expect(store.append('run-2', 'no-stream', [{ type: 'RunQueued', data: {} }])).rejects.toBeInstanceOf(
      ConcurrencyConflictError,
    );
  });

  it('lets exactly one of two concurrent appends at the same expected version win', async () => {
    for (let round = 0; round < 15; round++) {
      const stream = `race-${round}`;
      // Round 0..4 race on a new stream, the others on an existing one.
      const expected = round < 5 ? 'no-stream' : 1;
      if (expected === 1) await store.append(stream, 'no-stream', [{ type: 'Created', data: {} }]);
      const results = await Promise.allSettled([
        store.append(stream, expected, [{ type: 'Changed', data: { by: 'a' } }]),
        store.append(stream, expected, [{ type: 'Changed', data: { by: 'b' } }]),
      ]);
      const won = results.filter((result) => result.status === 'fulfilled');
      const lost = results.filter((result) => result.status === 'rejected') as PromiseRejectedResult[];
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(ConcurrencyConflictError);
      const events = await store.readStream(stream);
      expect(events.filter((event) => event.type === 'Changed')).toHaveLength(1);
      expect(events.map((event) => event.streamVersion)).toEqual(events.map((_, index) => index + 1));
    }
  });

  it('never reports a conflict between concurrent appends to different streams', async () => {
    const results = await Promise.allSettled(
      [...Array(40).keys()].map((index) =>
        store.append(`fresh-${index}`, 'no-stream', index % 2 ? [{ type: 'A', data: {} }] : [{ type: 'A', data: {} }, { type: 'B', data: {} }]),
      ),
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
  });

  it("appends at the stream's end with expected version 'any'", async () => {
    await store.append('run-any', 'any', [{ type: 'RunQueued', data: {} }]);
    const [second] = await store.append('run-any', 'any', [{ type: 'RunStarted', data: {} }]);
    expect(second.streamVersion).toBe(2);
  });

  it('refuses an event id that was already appended', async () => {
    await store.append('run-dup', 'no-stream', [{ id: '7b0c5a44-6c3b-4a52-9d55-0e7c6a1f0001', type: 'RunQueued', data: {} }]);
    await expect(
      store.append('run-dup-2', 'no-stream', [{ id: '7b0c5a44-6c3b-4a52-9d55-0e7c6a1f0001', type: 'RunQueued', data: {} }]),
    ).rejects.toBeInstanceOf(DuplicateEventError);
  });

  it('rejects malformed stream ids, event types and empty appends with a clear error', async () => {
    await expect(store.append('no aggregate', 'any', [{ type: 'RunQueued', data: {} }])).rejects.toBeInstanceOf(
      InvalidEventError,
    );
    await expect(store.append('run-3', 'any', [{ type: 'run queued', data: {} }])).rejects.toThrow(/PascalCase/);
    await expect(store.append('run-3', 'any', [])).rejects.toThrow(/1 to 500 events/);
    expect(await store.streamVersion('run-3')).toBe(0);
  });

  it('reads the whole log after a position in order', async () => {
    const head = await store.headPosition();
    const appended = await store.append('log-1', 'no-stream', [
      { type: 'A', data: {} },
      { type: 'B', data: {} },
      { type: 'C', data: {} },
    ]);
    const read = await store.readAll(head, 10);
    expect(read.map((event) => event.id)).toEqual(appended.map((event) => event.id));
    expect(await store.readAll(appended[2].position, 10)).toEqual([]);
  });
});
