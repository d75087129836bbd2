import type { EntityManager } from 'typeorm';
import type { Database } from './database';

type Runner = Pick<EntityManager, 'query'>;

/** Named positions in the event log: how far a relay or a projection has come. */
export class Checkpoints {
  constructor(private readonly db: Database) {}

  /**
   * `lock` (inside a transaction, MySQL) holds the row until commit, so that two
   * processes advancing the same checkpoint take turns instead of both applying a batch.
   */
  async get(name: string, runner?: Runner, lock = false): Promise<number> {
    const sql = `SELECT position FROM co_checkpoints WHERE name = ?${lock && this.db.dialect === 'mysql' ? ' FOR UPDATE' : ''}`;
    const rows: { position: number | string }[] = runner
      ? await runner.query(sql, [name])
      : await this.db.query(sql, [name]);
    return rows.length ? Number(rows[0].position) : 0;
  }

  /** Creates the checkpoint at zero if it does not exist yet (so that it can be locked). */
  async ensure(name: string): Promise<void> {
    const now = new Date();
    await this.db.query(
      this.db.dialect === 'mysql'
        ? 'INSERT IGNORE INTO co_checkpoints (name, position, updated_at) VALUES (?, 0, ?)'
        : 'INSERT OR IGNORE INTO co_checkpoints (name, position, updated_at) VALUES (?, 0, ?)',
      [name, this.db.dialect === 'mysql' ? now : now.toISOString()],
    );
  }

  async save(name: string, position: number, runner?: Runner): Promise<void> {
    const now = new Date();
    const sql =
      this.db.dialect === 'mysql'
        ? `INSERT INTO co_checkpoints (name, position, updated_at) VALUES (?, ?, ?)
           ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = VALUES(updated_at)`
        : `INSERT INTO co_checkpoints (name, position, updated_at) VALUES (?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`;
    const parameters = [name, position, this.db.dialect === 'mysql' ? now : now.toISOString()];
    if (runner) await runner.query(sql, parameters);
    else await this.db.query(sql, parameters);
  }
}
