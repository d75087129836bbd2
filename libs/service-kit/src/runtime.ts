import type { Logger } from 'pino';
import { createLogger, type ServiceConfig } from '@co/common';
import * as path from 'node:path';
import { InProcessBus, NatsJetStreamBus, ServiceBus, SqliteBusJournal, type EventBus } from '@co/bus';
import {
  Checkpoints,
  Database,
  EventStore,
  OutboxRelay,
  ProjectionRunner,
} from '@co/eventstore';
import { Readiness } from './health/readiness';
import { ServiceMetrics } from './metrics/service-metrics';
import type { ServiceDefinition } from './service-definition';

export const SERVICE_RUNTIME = Symbol('SERVICE_RUNTIME');

/**
 * Everything a service needs besides its own code, built before Nest starts: the
 * database (migrated), the event store, the bus, the outbox relay and projections.
 */
export interface ServiceRuntime {
  definition: ServiceDefinition;
  config: ServiceConfig;
  logger: Logger;
  db: Database;
  store: EventStore;
  checkpoints: Checkpoints;
  bus: EventBus;
  relay: OutboxRelay;
  projections: ProjectionRunner;
  metrics: ServiceMetrics;
  readiness: Readiness;
  /** Stops background work and closes connections this runtime opened. */
  dispose(): Promise<void>;
}

export interface RuntimeOptions {
  /** A bus shared by several services in one process (standalone mode). */
  bus?: EventBus;
  logger?: Logger;
}

export async function createRuntime(
  definition: ServiceDefinition,
  config: ServiceConfig,
  options: RuntimeOptions = {},
): Promise<ServiceRuntime> {
  const logger = options.logger ?? createLogger({ service: definition.name, level: config.logLevel });
  const db = await Database.open({
    url: config.dbUrl,
    entities: definition.entities,
    migrations: definition.migrations,
  });
  const busSettings = {
    subjectPrefix: config.bus.subjectPrefix,
    maxDeliver: config.bus.maxDeliver,
    backoffMs: config.bus.backoffMs,
    logger: logger.child({ component: 'bus' }),
  };
  const bus = new ServiceBus(
    options.bus ??
      (config.natsUrl
        ? new NatsJetStreamBus({ ...busSettings, servers: config.natsUrl, connectionName: `co-${definition.name}` })
        : new InProcessBus({
            ...busSettings,
            journal: new SqliteBusJournal(path.join(config.dataDir, `${definition.name}-bus.sqlite`)),
          })),
    !options.bus,
  );
  try {
    await bus.connect();
    await bus.ensureStream(definition.name);
  } catch (error) {
    await db.close();
    await bus.close().catch(() => undefined);
    throw error;
  }
  const store = new EventStore(db);
  const checkpoints = new Checkpoints(db);
  const relay = new OutboxRelay(store, bus, checkpoints, {
    service: definition.name,
    subjectPrefix: config.bus.subjectPrefix,
    logger: logger.child({ component: 'outbox-relay' }),
  });
  const projections = new ProjectionRunner(db, store, checkpoints, definition.projections?.({ bus, subjectPrefix: config.bus.subjectPrefix }) ?? [], {
    logger: logger.child({ component: 'projections' }),
  });
  const metrics = new ServiceMetrics(definition.name);
  metrics.observedCounter('co_outbox_published_events_total', 'Events published by the outbox relay.', () => relay.publishedCount);
  const readiness = new Readiness(db, bus);
  let disposed = false;
  return {
    definition,
    config,
    logger,
    db,
    store,
    checkpoints,
    bus,
    relay,
    projections,
    metrics,
    readiness,
    async dispose() {
      if (disposed) return;
      disposed = true;
      readiness.setAccepting(false);
      await relay.stop();
      await projections.stop();
      await bus.close();
      await db.close();
    },
  };
}
