import type { LogarithmParts } from '../logarithm-parts';
import { CreateRetention1764300000002 } from './1764300000002-create-retention.migration';
import { RetentionController } from './retention.controller';
import { RetentionScheduler } from './retention.scheduler';
import { RetentionService } from './retention.service';

/** Per-organization retention: whole segments deleted on a schedule and on demand. */
export const retentionParts: LogarithmParts = {
  controllers: [RetentionController],
  providers: [RetentionService, RetentionScheduler],
  migrations: [CreateRetention1764300000002],
};
