import type { CrewParts } from '../crew-parts';
import { CreateQuotas1764000300000 } from '../migrations/1764000300000-create-quotas';
import { QUOTA_DEFAULTS, loadQuotaDefaults } from './quota-defaults';
import { QUOTA_READER } from './quota.port';
import { QuotaUsageTracker } from './quota-usage';
import { QuotasController } from './quotas.controller';
import { QuotasGrpcController } from './quotas.grpc.controller';
import { QuotasProjection } from './quotas.projection';
import { QuotasService } from './quotas.service';

/** Quotas: limits per organization and project, and their usage followed from pilotage's events. */
export const quotasParts: CrewParts = {
  controllers: [QuotasController, QuotasGrpcController],
  providers: [
    QuotasService,
    QuotaUsageTracker,
    { provide: QUOTA_READER, useExisting: QuotasService },
    { provide: QUOTA_DEFAULTS, useFactory: () => loadQuotaDefaults(process.env) },
  ],
  migrations: [CreateQuotas1764000300000],
  projections: () => [new QuotasProjection()],
};
