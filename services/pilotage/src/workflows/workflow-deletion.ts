import { status as GrpcStatus } from '@grpc/grpc-js';
import { userIdOf, type Principal } from '@co/auth';
import { DomainError } from '@co/common';
import type { RunsService } from '../runs/runs.service';
import type { WorkflowsService } from './workflows.service';

/**
 * Deletes a workflow as `DELETE /api/v1/workflows/{id}` does: 404 if it does not
 * exist; 409 `WORKFLOW.RUN_ACTIVE` (gRPC FAILED_PRECONDITION) while runs are active
 * unless `force`, which stops them first. Shared by the REST and gRPC controllers;
 * `forceHint` names the switch the caller's API has.
 */
export async function deleteWorkflow(
  workflows: WorkflowsService,
  runs: RunsService,
  id: string,
  options: { force: boolean; forceHint: string; principal: Principal },
): Promise<void> {
  const actor = userIdOf(options.principal);
  const actorName = options.principal.kind === 'user' ? options.principal.username : undefined;
  await workflows.load(id);
  const active = await runs.activeRuns(id);
  if (active.length > 0 && !options.force) {
    throw new DomainError(
      'WORKFLOW.RUN_ACTIVE',
      `The workflow has ${active.length} active run(s); stop them first or delete with ${options.forceHint}, which stops them.`,
      409,
      GrpcStatus.FAILED_PRECONDITION,
      { runs: active },
    );
  }
  for (const runId of active) await runs.stop(runId, actor, actorName);
  await workflows.delete(id, active, actor);
  // A run started between the check and the delete: a deleted workflow runs nothing.
  for (const runId of await runs.activeRuns(id)) await runs.stop(runId, actor, actorName);
}
