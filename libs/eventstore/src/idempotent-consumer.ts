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

/**
 * `handleOnce` for a batch: one transaction records the ids not seen before and runs
 * `work` on those messages only, in order. Returns how many were new. A message being
 * recorded concurrently by another transaction makes the whole batch fail, and the
 * caller handles its messages one by one.
 */
export function handleOnceBatch<T extends { id: string }>(
  db: Database,
  consumer: string,
  messages: T[],
  work: (fresh: T[], manager: EntityManager) => Promise<void>,
): Promise<number> {
  return db.transaction(async (manager) => {
    const ids = [...new Set(messages.map((message) => message.id))];
    const known: { event_id: string }[] = await manager.query(
      `SELECT event_id FROM co_consumed_events WHERE consumer = ? AND event_id IN (${ids.map(() => '?').join(', ')})`,
      [consumer, ...ids],
    );
    const seen = new Set(known.map((row) => row.event_id));
    const fresh = messages.filter((message) => {
      if (seen.has(message.id)) return false;
      seen.add(message.id);
      return true;
    });
    if (fresh.length === 0) return 0;
    const now = db.dialect === 'mysql' ? new Date() : new Date().toISOString();
    await manager.query(
      `INSERT INTO co_consumed_events (consumer, event_id, consumed_at) VALUES ${fresh.map(() => '(?, ?, ?)').join(', ')}`,
      fresh.flatMap((message) => [consumer, message.id, now]),
    );
    await work(fresh, manager);
    return fresh.length;
  });
}
