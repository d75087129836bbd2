import type { EntityManager } from 'typeorm';
import type { Database } from './database';

type Runner = Pick<EntityManager, 'query'>;

/** Named positions in the event log: how far a relay or a projection has come. */
export class Checkpoints {
  constructor(private readonly db: Database) {}

  async get(name: string, runner?: Runner): Promise<number> {
    const sql = 'SELECT position FROM co_checkpoints WHERE name = ?';
    const rows: { position: number | string }[] = runner
      ? await runner.query(sql, [name])
      : await this.db.query(sql, [name]);
    return rows.length ? Number(rows[0].position) : 0;
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
