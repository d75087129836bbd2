import { auditParts } from './audit/audit.parts';
import type { CrewParts } from './crew-parts';
import { quotasParts } from './quotas/quotas.parts';
import { registryParts } from './registry/registry.parts';
import { tenancyParts } from './tenancy/tenancy.parts';
import { tokensParts } from './tokens/tokens.parts';

/** crew's areas, each adding its controllers, providers, migrations and projections. */
export const CREW_PARTS: CrewParts[] = [tenancyParts, tokensParts, registryParts, auditParts, quotasParts];
