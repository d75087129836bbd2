import type { EntityManager } from 'typeorm';
import type { BusSubscription, EventBus } from '@co/bus';
import type { Database } from './database';
import { handleOnce, handleOnceBatch } from './idempotent-consumer';
import type { EventEnvelope } from './outbox-relay';

interface SubscriberBase {
  /** Durable consumer name, also the idempotency scope (`logarithm-task-logs`). */
  durable: string;
  /** e.g. `co.pilotage.run.>` */
  subject: string;
  maxDeliver?: number;
  backoffMs?: number;
  /** Largest batch given to `handleBatch`. */
  maxBatch?: number;
}

export type EventSubscriberOptions = SubscriberBase &
  (
    | { handle: (event: EventEnvelope, manager: EntityManager) => Promise<void>; handleBatch?: never }
    | {
        /**
         * Handles, in one transaction, the events of a batch not handled before (in
         * order); also used for single events. Lets a consumer follow a busy producer.
         */
        handleBatch: (events: EventEnvelope[], manager: EntityManager) => Promise<void>;
        handle?: never;
      }
  );

/**
 * Feeds another service's events into this service's database exactly once: the bus
 * delivers at least once, and handleOnce / handleOnceBatch drop what was already handled.
 */
export function subscribeToEvents(bus: EventBus, db: Database, options: EventSubscriberOptions): Promise<BusSubscription> {
  const { handleBatch } = options;
  const handleOne = handleBatch
    ? (event: EventEnvelope, manager: EntityManager) => handleBatch([event], manager)
    : options.handle;
  return bus.subscribe({
    durable: options.durable,
    subject: options.subject,
    maxDeliver: options.maxDeliver,
    backoffMs: options.backoffMs,
    maxBatch: options.maxBatch,
    handler: async (message) => {
      await handleOnce(db, options.durable, message.id, (manager) => handleOne(message.data as EventEnvelope, manager));
    },
    batchHandler: handleBatch
      ? async (messages) => {
          await handleOnceBatch(db, options.durable, messages, (fresh, manager) =>
            handleBatch(
              fresh.map((message) => message.data as EventEnvelope),
              manager,
            ),
          );
        }
      : undefined,
  });
}
