import type { EntityManager } from 'typeorm';
import type { Dialect } from '@co/eventstore';

/** Runs SQL: a transaction's manager, or the database itself. */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

export function dialectOfManager(manager: EntityManager): Dialect {
  return manager.connection.options.type === 'mysql' ? 'mysql' : 'sqlite';
}

/**
 * `INSERT … ` that leaves an existing row (same key) as it is, or updates `update`
 * columns to the new values: written once for MySQL/MariaDB and SQLite.
 */
export async function upsert(
  runner: SqlRunner,
  dialect: Dialect,
  table: string,
  row: Record<string, unknown>,
  keys: string[],
  update: string[] = [],
): Promise<void> {
  const columns = Object.keys(row);
  const placeholders = columns.map(() => '?').join(', ');
  let conflict: string;
  if (dialect === 'mysql') {
    const sets = update.length ? update.map((column) => `${column} = VALUES(${column})`) : [`${keys[0]} = ${keys[0]}`];
    conflict = `ON DUPLICATE KEY UPDATE ${sets.join(', ')}`;
  } else {
    conflict = update.length
      ? `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${update.map((column) => `${column} = excluded.${column}`).join(', ')}`
      : `ON CONFLICT (${keys.join(', ')}) DO NOTHING`;
  }
  await runner.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders}) ${conflict}`, Object.values(row));
}

/** `?, ?, ?` for an IN list. */
export function marks(count: number): string {
  return new Array(count).fill('?').join(', ');
}
