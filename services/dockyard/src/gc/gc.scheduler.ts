import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConflictError } from '@co/common';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { GcService } from './gc.service';

/** setTimeout's longest delay (about 24.8 days); longer intervals wait in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs a garbage collection every `gcIntervalHours` (0: never). Every replica keeps a
 * timer; the named lock lets one of them collect, the others skip that round. The
 * timer does not keep the process alive and stops at shutdown.
 */
@Injectable()
export class GcScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('GarbageCollection');
  private timer?: NodeJS.Timeout;
  private due = 0;
  private stopped = false;

  constructor(
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    private readonly gc: GcService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.settings.gcIntervalHours <= 0) return;
    this.due = Date.now() + this.interval;
    this.arm();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private get interval(): number {
    return this.settings.gcIntervalHours * 3_600_000;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.min(Math.max(this.due - Date.now(), 0), MAX_TIMER_MS));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (Date.now() >= this.due) {
      this.due = Date.now() + this.interval;
      try {
        await this.gc.run({ dryRun: false, trigger: 'schedule', startedBy: 'schedule' });
      } catch (error) {
        if (!(error instanceof ConflictError)) this.logger.error(`scheduled garbage collection failed: ${(error as Error).message}`);
      }
    }
    this.arm();
  }
}
