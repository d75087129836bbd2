import type { EntityManager } from 'typeorm';
import type { Database } from './database';

/**
 * Runs `work` at most once per (consumer, message id): the id is recorded in the same
 * transaction as the work's writes, so a redelivered or re-published message is a
 * no-op. Returns false when the message had already been handled.
 */
export function handleOnce(
  db: Database,
  consumer: string,
  messageId: string,
  work: (manager: EntityManager) => Promise<void>,
): Promise<boolean> {
  return db.transaction(async (manager) => {
    const now = new Date();
    const inserted =
      db.dialect === 'mysql'
        ? await manager.query('INSERT IGNORE INTO co_consumed_events (consumer, event_id, consumed_at) VALUES (?, ?, ?)', [
            consumer,
            messageId,
            now,
          ])
        : await manager.query(
            'INSERT OR IGNORE INTO co_consumed_events (consumer, event_id, consumed_at) VALUES (?, ?, ?)',
            [consumer, messageId, now.toISOString()],
          );
    const affected = db.dialect === 'mysql' ? (inserted as { affectedRows: number }).affectedRows : await changes(manager);
    if (affected === 0) return false;
    await work(manager);
    return true;
  });
}

async function changes(manager: EntityManager): Promise<number> {
  const [row] = await manager.query('SELECT changes() AS changed');
  return Number(row.changed);
}
