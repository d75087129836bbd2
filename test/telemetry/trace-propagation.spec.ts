import { Body, Controller, Inject, Module, type OnApplicationBootstrap, Post } from '@nestjs/common';
import { Public } from '@co/auth';
import { IsString } from 'class-validator';
import request from 'supertest';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { EVENT_BUS, type EventBus } from '@co/bus';
import { Database, type EventEnvelope, EventStore, subscribeToEvents } from '@co/eventstore';
import { type RunningService, SERVICE_RUNTIME, type ServiceRuntime, startService } from '@co/service-kit';
import { deleteStreams, eventually, uniqueName } from '../support/infra';
import { testServiceConfig, type TestConfig } from '../support/services';
import { testSpans } from '../support/setup-telemetry';

class RecordThingDto {
  @IsString()
  name!: string;
}

/** Stands in for a service that records a fact over HTTP. */
@Public()
@Controller('api/v1/things')
class ThingsController {
  constructor(private readonly store: EventStore) {}

  @Post()
  async record(@Body() body: RecordThingDto) {
    const [event] = await this.store.append(`thing-${body.name}`, 'no-stream', [{ type: 'ThingRecorded', data: { ...body } }]);
    return { id: event.id };
  }
}

@Module({ controllers: [ThingsController] })
class ProducerModule {}

const observed: { event: EventEnvelope; traceId?: string; spanId?: string }[] = [];

/** Stands in for another service that reacts to the first one's events. */
@Module({})
class ConsumerModule implements OnApplicationBootstrap {
  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    private readonly db: Database,
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
  ) {}

  async onApplicationBootstrap() {
    await subscribeToEvents(this.bus, this.db, {
      durable: 'logarithm-things',
      subject: `${this.runtime.config.bus.subjectPrefix}.pilotage.thing.>`,
      handle: async (event) => {
        const active = trace.getActiveSpan()?.spanContext();
        observed.push({ event, traceId: active?.traceId, spanId: active?.spanId });
      },
    });
  }
}

describe('one trace from an HTTP request through a NATS event into another service', () => {
  const prefix = uniqueName('t');
  const setups: TestConfig[] = [];
  const services: RunningService[] = [];

  beforeAll(async () => {
    const producerSetup = await testServiceConfig('pilotage', 'distributed', { CO_SUBJECT_PREFIX: prefix });
    const consumerSetup = await testServiceConfig('logarithm', 'distributed', { CO_SUBJECT_PREFIX: prefix });
    setups.push(producerSetup, consumerSetup);
    services.push(
      await startService({ name: 'pilotage', title: 'p', description: 'p', module: ProducerModule }, producerSetup.config),
      await startService({ name: 'logarithm', title: 'l', description: 'l', module: ConsumerModule }, consumerSetup.config),
    );
  });

  afterAll(async () => {
    for (const service of services) await service.close();
    for (const setup of setups) await setup.cleanup();
    await deleteStreams(prefix);
  });

  it('keeps the trace id and links each span to its parent', async () => {
    testSpans.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const callerSpanId = 'b7ad6b7169203331';
    await request(services[0].httpUrl)
      .post('/api/v1/things')
      .set('traceparent', `00-${traceId}-${callerSpanId}-01`)
      .send({ name: 'lamp' })
      .expect(201);

    const [seen] = await eventually(async () => observed.length > 0 && observed, 15_000, 'the event in the consumer');
    expect(seen.event).toMatchObject({ type: 'ThingRecorded', streamId: 'thing-lamp', service: 'pilotage' });
    expect(seen.traceId).toBe(traceId);

    const subject = `${prefix}.pilotage.thing.ThingRecorded`;
    const spans = await eventually(async () => {
      const finished = testSpans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
      return finished.some((span) => span.name === `${subject} process`) && finished;
    }, 10_000, 'the consumer span');
    const byName = (name: string): ReadableSpan => {
      const span = spans.find((candidate) => candidate.name === name);
      if (!span) throw new Error(`no span ${name} among ${spans.map((each) => each.name).join(', ')}`);
      return span;
    };
    const server = byName('POST /api/v1/things');
    const publish = byName(`${subject} publish`);
    const process = byName(`${subject} process`);
    expect(server.parentSpanContext?.spanId).toBe(callerSpanId);
    expect(publish.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(process.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(seen.spanId).toBe(process.spanContext().spanId);
  });
});
