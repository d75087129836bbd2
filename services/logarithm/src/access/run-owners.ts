import { Injectable } from '@nestjs/common';
import { RunEnds } from '../runs/run-ends';
import { LogStore } from '../storage/log-store';

/**
 * Who a run belongs to, for every check that needs it: pushes, reads, downloads and
 * tails. pilotage's word (its RunRequested) first, so that a run is known before its
 * first line arrives and no push can claim it for another project; else the org and
 * project of its first stored line. Null when neither knows the run.
 */
@Injectable()
export class RunOwners {
  constructor(
    private readonly runs: RunEnds,
    private readonly store: LogStore,
  ) {}

  async owner(run: string): Promise<{ org: string; project: string } | null> {
    const requested = await this.runs.owner(run);
    return requested ? { org: requested.org, project: requested.project } : this.store.runOwner(run);
  }
}
