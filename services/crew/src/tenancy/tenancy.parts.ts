import type { CrewParts } from '../crew-parts';

/** Tenancy: controllers, providers, migrations and projections. */
export const tenancyParts: CrewParts = {};
