import type { EntityManager } from 'typeorm';
import type { EventEnvelope } from '@co/eventstore';

/** The cross-service read model's write: one multi-row INSERT per batch of waiting events. */
export async function insertReadModelRows(table: string, events: EventEnvelope[], manager: EntityManager): Promise<void> {
  await manager.query(
    `INSERT INTO ${table} (event_id, stream_id, stream_version, position) VALUES ${events.map(() => '(?, ?, ?, ?)').join(', ')}`,
    events.flatMap((event) => [event.id, event.streamId, event.streamVersion, event.position]),
  );
}
