import type { CrewParts } from '../crew-parts';

/** Audit: controllers, providers, migrations and projections. */
export const auditParts: CrewParts = {};
