import { InProcessBus, ServiceBus } from '@co/bus';
import { eventually, silentLogger } from '../../../test/support/infra';

describe('ServiceBus over a shared bus', () => {
  it('stops only its own subscriptions on close and leaves the shared bus open', async () => {
    const shared = new InProcessBus({ logger: silentLogger, subjectPrefix: 'co' });
    await shared.connect();
    const first = new ServiceBus(shared, false);
    const second = new ServiceBus(shared, false);
    const seenByFirst: string[] = [];
    const seenBySecond: string[] = [];
    await first.subscribe({ durable: 'first', subject: 'co.pilotage.>', handler: async (m) => void seenByFirst.push(m.id) });
    await second.subscribe({ durable: 'second', subject: 'co.pilotage.>', handler: async (m) => void seenBySecond.push(m.id) });
    await shared.publish({ id: 'one', subject: 'co.pilotage.run.RunStarted', data: {} });
    await eventually(async () => seenByFirst.length === 1 && seenBySecond.length === 1, 5000, 'both deliveries');

    await first.close();
    await shared.publish({ id: 'two', subject: 'co.pilotage.run.RunFinished', data: {} });
    await eventually(async () => seenBySecond.length === 2, 5000, 'the second delivery');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seenByFirst).toEqual(['one']);
    await expect(shared.ping()).resolves.toBeUndefined();

    await second.close();
    await shared.close();
  });

  it('closes the bus it owns', async () => {
    const owned = new InProcessBus({ logger: silentLogger });
    const bus = new ServiceBus(owned, true);
    await bus.connect();
    await bus.close();
    await expect(owned.ping()).rejects.toThrow('closed');
  });
});
