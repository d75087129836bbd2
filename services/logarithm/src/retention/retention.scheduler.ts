import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConflictError } from '@co/common';
import { LOGARITHM_SETTINGS, type LogarithmSettings } from '../logarithm-settings';
import { RetentionService } from './retention.service';

/** Runs retention every CO_LOGARITHM_RETENTION_INTERVAL_MINUTES (0: never); the timer does not keep the process alive. */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @Inject(LOGARITHM_SETTINGS) private readonly settings: LogarithmSettings,
    private readonly retention: RetentionService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.settings.retentionIntervalMinutes > 0) this.arm();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.settings.retentionIntervalMinutes * 60_000);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.retention.run({ trigger: 'schedule', startedBy: 'schedule' });
    } catch (error) {
      if (!(error instanceof ConflictError)) this.logger.error(`scheduled retention failed: ${(error as Error).message}`);
    }
    this.arm();
  }
}
