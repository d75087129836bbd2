import type { LogarithmParts } from '../logarithm-parts';
import { CreateRuns1764300000050 } from './1764300000050-create-runs.migration';
import { RunEnds } from './run-ends';

/** Runs: pilotage's runs followed from its events (owner and end), for tails and masks. */
export const runsParts: LogarithmParts = {
  providers: [RunEnds],
  migrations: [CreateRuns1764300000050],
};
