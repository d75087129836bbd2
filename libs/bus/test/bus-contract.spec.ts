import {
  DLQ_HEADERS,
  type DeliveredMessage,
  type EventBus,
  InProcessBus,
  NatsJetStreamBus,
  deadLetterSubject,
} from '@co/bus';
import { NATS_URL, deleteStreams, eventually, silentLogger, uniqueName } from '../../../test/support/infra';

type Adapter = 'nats' | 'in-process';

function createBus(adapter: Adapter, prefix: string, overrides: { maxDeliver?: number; ackWaitMs?: number } = {}): EventBus {
  const settings = { subjectPrefix: prefix, maxDeliver: overrides.maxDeliver ?? 3, backoffMs: 20, logger: silentLogger };
  return adapter === 'nats'
    ? new NatsJetStreamBus({ ...settings, servers: NATS_URL, connectionName: 'bus-contract-test', ackWaitMs: overrides.ackWaitMs ?? 1000 })
    : new InProcessBus(settings);
}

/** Both adapters must pass the same contract. */
describe.each<Adapter>(['nats', 'in-process'])('event bus contract: %s', (adapter) => {
  let prefix: string;
  let bus: EventBus;

  beforeEach(async () => {
    prefix = uniqueName('t');
    bus = createBus(adapter, prefix);
    await bus.connect();
    await bus.ensureStream('svc');
  });

  afterEach(async () => {
    await bus.close();
    if (adapter === 'nats') await deleteStreams(prefix);
  });

  it('delivers the messages of a subject in publish order, with headers and data', async () => {
    const received: DeliveredMessage[] = [];
    for (let index = 0; index < 20; index++) {
      await bus.publish({
        id: `m-${index}`,
        subject: `${prefix}.svc.run.RunStarted`,
        data: { index },
        headers: { 'Co-Tenant': 'acme' },
      });
    }
    await bus.subscribe({ durable: 'ordered', subject: `${prefix}.svc.run.>`, handler: async (message) => void received.push(message) });
    await eventually(async () => received.length === 20, 10_000, '20 deliveries');
    expect(received.map((message) => (message.data as { index: number }).index)).toEqual([...Array(20).keys()]);
    expect(received[0]).toMatchObject({ id: 'm-0', subject: `${prefix}.svc.run.RunStarted`, deliveryCount: 1 });
    expect(received[0].headers['Co-Tenant']).toBe('acme');
  });

  it('only delivers subjects matching the filter', async () => {
    const received: string[] = [];
    await bus.subscribe({ durable: 'runs-only', subject: `${prefix}.svc.run.*`, handler: async (message) => void received.push(message.id) });
    await bus.publish({ id: 'run', subject: `${prefix}.svc.run.RunStarted`, data: {} });
    await bus.publish({ id: 'task', subject: `${prefix}.svc.task.TaskStarted`, data: {} });
    await bus.publish({ id: 'run-2', subject: `${prefix}.svc.run.RunFinished`, data: {} });
    await eventually(async () => received.length === 2, 10_000, 'two run messages');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual(['run', 'run-2']);
  });

  it('absorbs a second publish of the same message id', async () => {
    const first = await bus.publish({ id: 'same', subject: `${prefix}.svc.run.RunStarted`, data: { copy: 1 } });
    const second = await bus.publish({ id: 'same', subject: `${prefix}.svc.run.RunStarted`, data: { copy: 2 } });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    const received: unknown[] = [];
    await bus.subscribe({ durable: 'dedupe', subject: `${prefix}.svc.>`, handler: async (message) => void received.push(message.data) });
    await bus.publish({ id: 'marker', subject: `${prefix}.svc.run.RunFinished`, data: { marker: true } });
    await eventually(async () => received.length === 2, 10_000, 'the marker');
    expect(received).toEqual([{ copy: 1 }, { marker: true }]);
  });

  it('redelivers a message whose handler failed, counting deliveries', async () => {
    const deliveries: number[] = [];
    await bus.subscribe({
      durable: 'flaky',
      subject: `${prefix}.svc.>`,
      handler: async (message) => {
        deliveries.push(message.deliveryCount);
        if (message.deliveryCount < 2) throw new Error('transient');
      },
    });
    await bus.publish({ id: 'retry-me', subject: `${prefix}.svc.run.RunStarted`, data: {} });
    await eventually(async () => deliveries.length === 2, 10_000, 'a redelivery');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(deliveries).toEqual([1, 2]);
  });

  it('dead-letters a poison message after maxDeliver failures, with its error', async () => {
    const attempts: number[] = [];
    const deadLetters: DeliveredMessage[] = [];
    await bus.subscribe({
      durable: 'dlq-watch',
      subject: deadLetterSubject(prefix, 'poisoned'),
      handler: async (message) => void deadLetters.push(message),
    });
    await bus.subscribe({
      durable: 'poisoned',
      subject: `${prefix}.svc.>`,
      handler: async (message) => {
        attempts.push(message.deliveryCount);
        throw new Error(`cannot handle ${(message.data as { n: number }).n}`);
      },
    });
    await bus.publish({ id: 'poison', subject: `${prefix}.svc.run.RunStarted`, data: { n: 7 } });
    const [letter] = await eventually(async () => deadLetters.length > 0 && deadLetters, 15_000, 'a dead letter');
    expect(attempts).toEqual([1, 2, 3]);
    expect(letter.data).toEqual({ n: 7 });
    expect(letter.headers[DLQ_HEADERS.error]).toBe('cannot handle 7');
    expect(letter.headers[DLQ_HEADERS.deliveries]).toBe('3');
    expect(letter.headers[DLQ_HEADERS.subject]).toBe(`${prefix}.svc.run.RunStarted`);
    expect(letter.headers[DLQ_HEADERS.messageId]).toBe('poison');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts).toHaveLength(3);
  });

  it('hands waiting messages to a batch handler in order, and retries a failing batch one message at a time', async () => {
    const batches: string[][] = [];
    const singles: string[] = [];
    const deadLetters: DeliveredMessage[] = [];
    await bus.subscribe({
      durable: 'batch-dlq',
      subject: deadLetterSubject(prefix, 'batched'),
      handler: async (message) => void deadLetters.push(message),
    });
    const ids = [...Array(40).keys()].map((index) => (index === 17 ? 'poison' : `b-${String(index).padStart(2, '0')}`));
    for (const id of ids) await bus.publish({ id, subject: `${prefix}.svc.run.RunStarted`, data: { id } });
    await bus.subscribe({
      durable: 'batched',
      subject: `${prefix}.svc.>`,
      maxBatch: 8,
      batchHandler: async (messages) => {
        if (messages.some((message) => message.id === 'poison')) throw new Error('batch holds a bad message');
        batches.push(messages.map((message) => message.id));
      },
      handler: async (message) => {
        if (message.id === 'poison') throw new Error('cannot handle this one');
        singles.push(message.id);
      },
    });
    await eventually(
      async () => deadLetters.length === 1 && batches.flat().length + singles.length === 39,
      15_000,
      'every message handled and the bad one dead-lettered',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const handled = [...batches.flat(), ...singles];
    expect(handled.sort()).toEqual(ids.filter((id) => id !== 'poison').sort());
    expect(batches.some((batch) => batch.length > 1)).toBe(true);
    expect(Math.max(...batches.map((batch) => batch.length))).toBeLessThanOrEqual(8);
    expect(batches.flat()).toEqual([...batches.flat()].sort());
    expect(singles.length).toBeGreaterThan(0);
    expect(deadLetters[0].headers[DLQ_HEADERS.messageId]).toBe('poison');
    expect(deadLetters[0].headers[DLQ_HEADERS.error]).toBe('cannot handle this one');
  });

  it('hands a lone message to the batch handler without waiting for more', async () => {
    const batches: string[][] = [];
    await bus.subscribe({
      durable: 'lone',
      subject: `${prefix}.svc.>`,
      batchHandler: async (messages) => void batches.push(messages.map((message) => message.id)),
      handler: async () => {
        throw new Error('not used');
      },
    });
    await bus.publish({ id: 'alone', subject: `${prefix}.svc.run.RunStarted`, data: {} });
    await eventually(async () => batches.length === 1, 5_000, 'the lone message');
    expect(batches).toEqual([['alone']]);
  });

  it('gives a durable consumer that subscribes later the messages it missed, and resumes where it stopped', async () => {
    const received: string[] = [];
    const handler = async (message: DeliveredMessage) => void received.push(message.id);
    await bus.publish({ id: 'before', subject: `${prefix}.svc.run.RunStarted`, data: {} });
    const subscription = await bus.subscribe({ durable: 'late', subject: `${prefix}.svc.>`, handler });
    await eventually(async () => received.length === 1, 10_000, 'the retained message');
    await subscription.stop();
    await bus.publish({ id: 'while-away', subject: `${prefix}.svc.run.RunFinished`, data: {} });
    await bus.subscribe({ durable: 'late', subject: `${prefix}.svc.>`, handler });
    await eventually(async () => received.length === 2, 10_000, 'the message published while away');
    expect(received).toEqual(['before', 'while-away']);
  });
});

describe('event bus: NATS JetStream specifics', () => {
  it('redelivers a message to the same durable after its consumer died before acking', async () => {
    const prefix = uniqueName('t');
    const crashing = createBus('nats', prefix, { ackWaitMs: 1000 });
    await crashing.connect();
    let started!: () => void;
    let release!: (error: Error) => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    await crashing.subscribe({
      durable: 'crashy',
      subject: `${prefix}.svc.>`,
      // Does not settle until the test ends: the process "dies" while handling.
      handler: () => {
        started();
        return new Promise((_, reject) => (release = reject));
      },
    });
    await crashing.publish({ id: 'in-flight', subject: `${prefix}.svc.run.RunStarted`, data: { v: 1 } });
    await handlerStarted;
    // Drop the connection without acking, as a killed process would.
    await (crashing as unknown as { connection: { close(): Promise<void> } }).connection.close();

    const survivor = createBus('nats', prefix, { ackWaitMs: 1000 });
    await survivor.connect();
    const received: DeliveredMessage[] = [];
    await survivor.subscribe({ durable: 'crashy', subject: `${prefix}.svc.>`, handler: async (message) => void received.push(message) });
    try {
      await eventually(async () => received.length > 0, 15_000, 'the redelivery');
      expect(received[0]).toMatchObject({ id: 'in-flight', data: { v: 1 } });
      expect(received[0].deliveryCount).toBe(2);
    } finally {
      release(new Error('test over'));
      await crashing.close();
      await survivor.close();
      await deleteStreams(prefix);
    }
  });

  it('declares streams idempotently: a second bus declaring the same stream keeps its messages', async () => {
    const prefix = uniqueName('t');
    const first = createBus('nats', prefix);
    await first.connect();
    await first.ensureStream('svc');
    await first.publish({ id: 'kept', subject: `${prefix}.svc.run.RunStarted`, data: {} });
    const second = createBus('nats', prefix);
    await second.connect();
    await second.ensureStream('svc');
    const received: string[] = [];
    await second.subscribe({ durable: 'reader', subject: `${prefix}.svc.>`, handler: async (message) => void received.push(message.id) });
    try {
      await eventually(async () => received.length === 1, 10_000, 'the kept message');
      expect(received).toEqual(['kept']);
    } finally {
      await first.close();
      await second.close();
      await deleteStreams(prefix);
    }
  });
});
