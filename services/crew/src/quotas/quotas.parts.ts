import type { CrewParts } from '../crew-parts';

/** Quotas: controllers, providers, migrations and projections. */
export const quotasParts: CrewParts = {};
