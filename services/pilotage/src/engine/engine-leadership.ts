import type { QueryRunner } from 'typeorm';
import type { Database } from '@co/eventstore';

const CHECK_INTERVAL_MS = 5000;

/**
 * One engine drives runs per database: replicas of pilotage all serve the API, and
 * the one holding a MySQL named lock (on its own connection) runs the engine. When
 * that replica dies its connection closes, the lock is freed and another takes over
 * by adopting the runs where the event log left them. SQLite is single-process.
 */
export class EngineLeadership {
  private runner?: QueryRunner;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly onAcquired: () => Promise<void>,
    private readonly onLost: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    void this.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.release();
  }

  get held(): boolean {
    return this.db.dialect !== 'mysql' || Boolean(this.runner && !this.runner.isReleased);
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.db.dialect !== 'mysql') {
        await this.onAcquired();
        return;
      }
      if (this.runner && !this.runner.isReleased) {
        const [row] = await this.runner.query('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.lockName()]);
        if (Number(row.mine) !== 1) {
          await this.release();
          await this.onLost();
        }
      } else {
        const runner = this.db.dataSource.createQueryRunner();
        await runner.connect();
        const [row] = await runner.query('SELECT GET_LOCK(?, 0) AS acquired', [this.lockName()]);
        if (Number(row.acquired) === 1) {
          this.runner = runner;
          await this.onAcquired();
        } else {
          await runner.release();
        }
      }
    } catch (error) {
      this.onError(error);
      if (this.runner) {
        await this.release().catch(() => undefined);
        await this.onLost().catch(() => undefined);
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.check(), CHECK_INTERVAL_MS);
  }

  private async release(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (!runner || runner.isReleased) return;
    try {
      await runner.query('SELECT RELEASE_LOCK(?)', [this.lockName()]);
    } finally {
      await runner.release();
    }
  }

  private lockName(): string {
    const options = this.db.dataSource.options as { database?: string; url?: string };
    const database = options.database ?? new URL(options.url ?? 'mysql://x/db').pathname.slice(1);
    return `co:${database}:pilotage-engine`.slice(0, 64);
  }
}
