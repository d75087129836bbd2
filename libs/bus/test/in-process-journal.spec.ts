import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type DeliveredMessage, InProcessBus, SqliteBusJournal } from '@co/bus';
import { eventually, silentLogger } from '../../../test/support/infra';

describe('in-process bus with a journal', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'co-bus-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const openBus = () =>
    new InProcessBus({ logger: silentLogger, backoffMs: 60_000, journal: new SqliteBusJournal(path.join(dir, 'bus.sqlite')) });

  it('delivers after a restart what was published but not settled, and keeps messages for later durables', async () => {
    const before = openBus();
    await before.connect();
    const firstRun: string[] = [];
    await before.subscribe({
      durable: 'logs',
      subject: 'co.pilotage.>',
      handler: async (message: DeliveredMessage) => {
        firstRun.push(message.id);
        if (message.id === 'm2') throw new Error('database is down');
      },
    });
    for (const id of ['m1', 'm2', 'm3']) await before.publish({ id, subject: 'co.pilotage.task.TaskStarted', data: { id } });
    // m1 and m3 are acknowledged; m2 waits a minute for its redelivery when the process stops.
    await eventually(async () => firstRun.length === 3, 5000, 'three deliveries');
    await before.close();

    const after = openBus();
    await after.connect();
    const secondRun: DeliveredMessage[] = [];
    await after.subscribe({ durable: 'logs', subject: 'co.pilotage.>', handler: async (message) => void secondRun.push(message) });
    await eventually(async () => secondRun.some((message) => message.id === 'm2'), 5000, 'm2 after the restart');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ids = secondRun.map((message) => message.id);
    expect(ids).not.toContain('m1');
    expect(ids[0]).toBe('m2');
    expect(secondRun[0].data).toEqual({ id: 'm2' });

    const lateComer: string[] = [];
    await after.subscribe({ durable: 'audit', subject: 'co.pilotage.>', handler: async (message) => void lateComer.push(message.id) });
    await eventually(async () => lateComer.length === 3, 5000, 'the retained messages');
    expect(lateComer).toEqual(['m1', 'm2', 'm3']);

    expect((await after.publish({ id: 'm1', subject: 'co.pilotage.task.TaskStarted', data: {} })).duplicate).toBe(true);
    const fresh = await after.publish({ id: 'm4', subject: 'co.pilotage.task.TaskStarted', data: {} });
    expect(fresh).toEqual({ duplicate: false, sequence: 4 });
    await after.close();
  });

  it('trims the journal to the retention limit', async () => {
    const journal = new SqliteBusJournal(path.join(dir, 'bus.sqlite'));
    const bus = new InProcessBus({ logger: silentLogger, retainLimit: 3, journal });
    await bus.connect();
    for (let index = 1; index <= 5; index++) await bus.publish({ id: `m${index}`, subject: 'co.crew.user.UserCreated', data: {} });
    expect(journal.load().map((message) => message.id)).toEqual(['m3', 'm4', 'm5']);
    await bus.close();
  });
});
