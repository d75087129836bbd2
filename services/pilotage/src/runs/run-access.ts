import { Injectable } from '@nestjs/common';
import type { ResourceRef, ResourceResolver } from '@co/auth';
import { workflowResource } from '../workflows/workflow-access';
import { WorkflowsService } from '../workflows/workflows.service';
import { runNotFound, RunsService } from './runs.service';

/**
 * A run is decided on as its workflow: the run's project, and the workflow's creator as
 * owner (a run of a deleted workflow has no owner any more).
 */
@Injectable()
export class RunResolver implements ResourceResolver {
  constructor(
    private readonly runs: RunsService,
    private readonly workflows: WorkflowsService,
  ) {}

  async resolve(id: string): Promise<ResourceRef> {
    const run = await this.runs.load(id);
    const workflow = await this.workflows.load(run.workflowId).catch(() => undefined);
    return workflowResource({ id: run.workflowId, project: run.project, createdBy: workflow?.createdBy });
  }

  notFound(id: string): Error {
    return runNotFound(id);
  }
}
