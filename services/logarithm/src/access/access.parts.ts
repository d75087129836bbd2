import { crewAccessControlProvider } from '@co/auth';
import type { LogarithmParts } from '../logarithm-parts';
import { RunLogResolver } from './run-log.resolver';
import { RunOwners } from './run-owners';

/** Access decisions come from crew; a run's logs are authorized by their org and project labels. */
export const accessParts: LogarithmParts = {
  providers: [crewAccessControlProvider(), RunOwners, RunLogResolver],
};
