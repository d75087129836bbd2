import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@co/common';
import type { ResourceRef, ResourceResolver } from '@co/auth';
import { RunOwners } from './run-owners';

/** 404 for an unknown run, and for another organization's run alike. */
export function runLogsNotFound(run: string): NotFoundError {
  return new NotFoundError('LOGS.RUN_NOT_FOUND', `No logs of run "${run}" are kept here that you may see; check the run id.`, { run });
}

/**
 * The owner of a run (see RunOwners), for `@Authorize('log:view', { resolver:
 * RunLogResolver, param: 'run' })` on every per-run read and tail.
 */
@Injectable()
export class RunLogResolver implements ResourceResolver {
  constructor(private readonly owners: RunOwners) {}

  async resolve(run: string): Promise<ResourceRef> {
    const owner = await this.owners.owner(run);
    if (!owner) throw runLogsNotFound(run);
    return { org: owner.org, project: owner.project, id: run };
  }

  notFound(run: string): Error {
    return runLogsNotFound(run);
  }
}
