export * from './database';
export * from './events';
export * from './errors';
export * from './event-store';
export * from './checkpoints';
export * from './event-feed';
export * from './outbox-relay';
export * from './projection';
export * from './idempotent-consumer';
export * from './event-subscriber';
export * from './wake-signal';
export { CreateEventStore1763700000000 } from './migrations/1763700000000-create-event-store';

import { CreateEventStore1763700000000 } from './migrations/1763700000000-create-event-store';
/** Migrations every service runs before its own. */
export const EVENT_STORE_MIGRATIONS = [CreateEventStore1763700000000];
