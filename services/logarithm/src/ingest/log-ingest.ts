import { Injectable } from '@nestjs/common';
import { ConflictError } from '@co/common';
import { RunOwners } from '../access/run-owners';
import type { IncomingLogLine, StoredLogLine } from '../storage/log-line';
import { LogStore } from '../storage/log-store';

/**
 * What the HTTP push does once lines are parsed and allowed: a run's lines stay with the
 * run's owner (RunOwners: pilotage's project for the run, else the project of its first
 * line), so a push cannot add lines to another tenant's run; then they go to the store.
 */
@Injectable()
export class LogIngest {
  constructor(
    private readonly logs: LogStore,
    private readonly owners: RunOwners,
  ) {}

  async store(lines: IncomingLogLine[]): Promise<StoredLogLine[]> {
    const runs = new Map<string, string>();
    for (const line of lines) {
      const run = line.labels.run;
      if (!run) continue;
      const place = `${line.labels.org}/${line.labels.project}`;
      if ((runs.get(run) ?? place) !== place) throw otherProject(run);
      runs.set(run, place);
    }
    for (const [run, place] of runs) {
      const owner = await this.owners.owner(run);
      if (owner && `${owner.org}/${owner.project}` !== place) throw otherProject(run);
    }
    return this.logs.append(lines);
  }
}

function otherProject(run: string): ConflictError {
  return new ConflictError('LOGS.RUN_OF_OTHER_PROJECT', `Run "${run}" has lines of another project; all lines of a run carry the org and project of its first line.`, { run });
}
