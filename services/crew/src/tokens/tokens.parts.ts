import type { CrewParts } from '../crew-parts';

/** Tokens: controllers, providers, migrations and projections. */
export const tokensParts: CrewParts = {};
