import pino from 'pino';
import type { EventBus, OutgoingMessage } from '@co/bus';
import { TASK_LOG_PUBLISHING, TaskLogStore, type TaskLogLine } from './task-logs';

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

describe('TaskLogStore publishing', () => {
  const context = { tenant: 'default', project: 'default/admin', workflowId: 'w' };
  const logger = pino({ level: 'silent' });

  it('retries each batch until the bus acknowledges it, in order, with its key range as message id', async () => {
    const bus = flakyBus();
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger);
    await store.write(lines('r1', 1, 3), context);
    await store.write([...lines('r1', 4, 2), ...lines('r1', 1000, 1, 'engine')], context);
    expect(store.pendingLines).toBe(6);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(bus.attempts).toBeGreaterThan(1);
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
    const store = new TaskLogStore(bus as unknown as EventBus, 'p', logger);
    await store.write(lines('r2', 1, TASK_LOG_PUBLISHING.bufferLines), context);
    let queued = false;
    const waiting = store.write(lines('r2', TASK_LOG_PUBLISHING.bufferLines + 1, 1), context).then(() => (queued = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(queued).toBe(false);
    bus.down = false;
    await waiting;
    await store.drained(20_000);
    expect(bus.acknowledged.reduce((sum, message) => sum + (message.data as { lines: unknown[] }).lines.length, 0)).toBe(TASK_LOG_PUBLISHING.bufferLines + 1);
    store.close();
  });
});
