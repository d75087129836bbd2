import type { EntityManager } from 'typeorm';
import type { BusSubscription, EventBus } from '@co/bus';
import type { Database } from './database';
import { handleOnce } from './idempotent-consumer';
import type { EventEnvelope } from './outbox-relay';

export interface EventSubscriberOptions {
  /** Durable consumer name, also the idempotency scope (`logarithm-task-logs`). */
  durable: string;
  /** e.g. `co.pilotage.run.>` */
  subject: string;
  handle: (event: EventEnvelope, manager: EntityManager) => Promise<void>;
  maxDeliver?: number;
  backoffMs?: number;
}

/**
 * Feeds another service's events into this service's database exactly once: the bus
 * delivers at least once, and handleOnce drops what was already handled.
 */
export function subscribeToEvents(bus: EventBus, db: Database, options: EventSubscriberOptions): Promise<BusSubscription> {
  return bus.subscribe({
    durable: options.durable,
    subject: options.subject,
    maxDeliver: options.maxDeliver,
    backoffMs: options.backoffMs,
    handler: async (message) => {
      await handleOnce(db, options.durable, message.id, (manager) =>
        options.handle(message.data as EventEnvelope, manager),
      );
    },
  });
}
