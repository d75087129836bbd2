import pino from 'pino';
import type { EventBus, OutgoingMessage } from '@co/bus';
import { TaskLogStore, type TaskLogLine } from './task-logs';

function lines(runId: string, from: number, count: number, source: 'container' | 'engine' = 'container'): TaskLogLine[] {
  return Array.from({ length: count }, (_, i) => ({
    runId,
    task: 's.a',
    attempt: 1,
    source,
    seq: from + i,
    stream: 'stdout' as const,
    time: new Date(),
    text: `line ${from + i}`,
  }));
}

/** A bus that refuses publishing while `down`, and records what it acknowledged. */
function flakyBus() {
  const acknowledged: OutgoingMessage[] = [];
  let attempts = 0;
  const bus = {
    down: true,
    get attempts() {
      return attempts;
    },
    acknowledged,
    async publish(message: OutgoingMessage) {
      attempts += 1;
      if (bus.down) throw new Error('no responders');
      acknowledged.push(message);
      return { duplicate: false, sequence: acknowledged.length };
    },
  };
  return bus;
}

/** Resolves once `check` holds, looking again after each turn of the event loop. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

describe('TaskLogStore publishing', () => {
  const context = { tenant: 'default', project: 'default/admin', workflowId: 'w' };
  const logger = pino({ level: 'silent' });
  // Retries at once: the tests wait for attempts, never for time.
  const limits = { retryFirstMs: 0, retryMaxMs: 0 };

  it('retries each batch until the bus acknowledges it, in order, with its key range as message id', async () => {
    const bus = flakyBus();
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger, limits);
    await store.write(lines('r1', 1, 3), context);
    await store.write([...lines('r1', 4, 2), ...lines('r1', 1000, 1, 'engine')], context);
    expect(store.pendingLines).toBe(6);
    await until(() => bus.attempts >= 3);
    expect(bus.acknowledged).toEqual([]);
    bus.down = false;
    await store.drained(20_000);
    expect(store.pendingLines).toBe(0);
    expect(bus.acknowledged.map((message) => message.id)).toEqual(['r1/s.a/1/container/1-3', 'r1/s.a/1/engine/1000-1000', 'r1/s.a/1/container/4-5']);
    expect(bus.acknowledged[0]).toMatchObject({ subject: 'p.pilotage.tasklog.r1', headers: { 'Co-Project': 'default/admin', 'Co-Tenant': 'default' } });
    store.close();
  });

  it('makes writers wait while the queue is full, instead of dropping lines', async () => {
    const bus = flakyBus();
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger, { ...limits, bufferLines: 10 });
    await store.write(lines('r2', 1, 10), context);
    let queued = false;
    const waiting = store.write(lines('r2', 11, 1), context).then(() => (queued = true));
    // Refused several times over: the writer still waits.
    await until(() => bus.attempts >= 5);
    expect(queued).toBe(false);
    expect(store.pendingLines).toBe(10);
    bus.down = false;
    await waiting;
    await store.drained(20_000);
    expect(bus.acknowledged.reduce((sum, message) => sum + (message.data as { lines: unknown[] }).lines.length, 0)).toBe(11);
    store.close();
  });

  it("tells when every line of one attempt was acknowledged, apart from other attempts' lines", async () => {
    const bus = flakyBus();
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger, limits);
    const attempt1 = { runId: 'r3', task: 's.a', attempt: 1 };
    await expect(store.acknowledged(attempt1)).resolves.toBe(true);
    await store.write([...lines('r3', 1, 2), ...lines('r3', 5000, 1, 'engine')], context);
    await expect(store.acknowledged({ ...attempt1, attempt: 2 })).resolves.toBe(true);
    await expect(store.acknowledged(attempt1, { timeoutMs: 0 })).resolves.toBe(false);
    const stopped = new AbortController();
    const abandoned = store.acknowledged(attempt1, { signal: stopped.signal });
    stopped.abort();
    await expect(abandoned).resolves.toBe(false);
    let acknowledged: boolean | undefined;
    const waiting = store.acknowledged(attempt1, { timeoutMs: 60_000 }).then((answer) => (acknowledged = answer));
    await until(() => bus.attempts >= 3);
    expect(acknowledged).toBeUndefined();
    bus.down = false;
    await expect(waiting).resolves.toBe(true);
    expect(bus.acknowledged).toHaveLength(2);
    store.close();
  });

  it('lets waiting writers and waiters for acknowledgements go when it closes', async () => {
    const bus = flakyBus();
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger, { ...limits, bufferLines: 1 });
    await store.write(lines('r4', 1, 1), context);
    const writing = store.write(lines('r4', 2, 1), context);
    const acknowledged = store.acknowledged({ runId: 'r4', task: 's.a', attempt: 1 }, { timeoutMs: 60_000 });
    store.close();
    await expect(writing).resolves.toBeUndefined();
    await expect(acknowledged).resolves.toBe(false);
    expect(bus.acknowledged).toEqual([]);
  });
});
