import { Injectable } from '@nestjs/common';
import type { ResourceRef, ResourceResolver } from '@co/auth';
import { runLogsNotFound } from '../access/run-log.resolver';
import { RunEnds } from '../runs/run-ends';
import { LogStore } from '../storage/log-store';

/**
 * The owner of a run for a live tail: pilotage's word (its RunRequested event) first, so
 * that a tail may be opened before the run's first line arrives, else the org and
 * project labels of its stored lines.
 */
@Injectable()
export class TailRunResolver implements ResourceResolver {
  constructor(
    private readonly runs: RunEnds,
    private readonly store: LogStore,
  ) {}

  async resolve(run: string): Promise<ResourceRef> {
    const owner = (await this.runs.owner(run)) ?? (await this.store.runOwner(run));
    if (!owner) throw runLogsNotFound(run);
    return { org: owner.org, project: owner.project, id: run };
  }

  notFound(run: string): Error {
    return runLogsNotFound(run);
  }
}
