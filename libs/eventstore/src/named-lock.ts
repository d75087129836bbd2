import type { QueryRunner } from 'typeorm';
import type { Database } from './database';

/**
 * A MySQL named lock (`GET_LOCK`) held on a connection of its own, so that it is freed
 * the moment its holder's process or connection dies: how one replica among several
 * becomes the one that publishes, or drives runs. The name is scoped to the database.
 */
export class NamedLock {
  private runner?: QueryRunner;
  readonly name: string;

  constructor(
    private readonly db: Database,
    name: string,
  ) {
    const options = db.dataSource.options as { database?: string; url?: string };
    const database = options.database ?? new URL(options.url ?? 'mysql://x/db').pathname.slice(1);
    this.name = `co:${database}:${name}`.slice(0, 64);
  }

  /** Whether this process believes it holds the lock (see `confirm`). */
  get held(): boolean {
    return Boolean(this.runner && !this.runner.isReleased);
  }

  /** Takes the lock if it is free; false when another connection holds it. */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const runner = this.db.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [row] = await runner.query('SELECT GET_LOCK(?, 0) AS acquired', [this.name]);
      if (Number(row.acquired) === 1) {
        this.runner = runner;
        return true;
      }
    } catch (error) {
      await runner.release();
      throw error;
    }
    await runner.release();
    return false;
  }

  /** Asks the server whether the lock is still this connection's; lets go of it if not. */
  async confirm(): Promise<boolean> {
    if (!this.runner || this.runner.isReleased) return false;
    const [row] = await this.runner.query('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.name]);
    if (Number(row.mine) === 1) return true;
    await this.release();
    return false;
  }

  async release(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (!runner || runner.isReleased) return;
    try {
      await runner.query('SELECT RELEASE_LOCK(?)', [this.name]);
    } finally {
      await runner.release();
    }
  }
}
