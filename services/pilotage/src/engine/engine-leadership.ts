import { NamedLock, type Database } from '@co/eventstore';

const CHECK_INTERVAL_MS = 5000;

/**
 * One engine drives runs per database: replicas of pilotage all serve the API, and
 * the one holding a MySQL named lock runs the engine. When that replica dies its
 * connection closes, the lock is freed and another takes over by adopting the runs
 * where the event log left them. SQLite is single-process: the engine just runs.
 */
export class EngineLeadership {
  private readonly lock: NamedLock;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly onAcquired: () => Promise<void>,
    private readonly onLost: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.lock = new NamedLock(db, 'pilotage-engine');
  }

  start(): void {
    void this.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.lock.release();
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    if (this.db.dialect !== 'mysql') {
      await this.onAcquired().catch((error: unknown) => this.onError(error));
      return;
    }
    try {
      if (this.lock.held) {
        if (!(await this.lock.confirm())) await this.onLost();
      } else if (await this.lock.tryAcquire()) {
        await this.onAcquired();
      }
    } catch (error) {
      this.onError(error);
      if (this.lock.held) {
        await this.lock.release().catch(() => undefined);
        await this.onLost().catch(() => undefined);
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.check(), CHECK_INTERVAL_MS);
  }
}
