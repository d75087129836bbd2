import { NotFoundError } from '@co/common';
import type { TaskLogPage, TaskLogStore } from '../engine/task-logs';
import { findTask } from './run-state';
import type { RunsService } from './runs.service';

/**
 * One page of a task's log, as `GET /api/v1/runs/{id}/tasks/{task}/logs` answers it:
 * 404 `RUN.NOT_FOUND` / `TASK.NOT_FOUND` unless the run has the task. Shared by the
 * REST and gRPC controllers.
 */
export async function readTaskLogs(
  runs: RunsService,
  logs: TaskLogStore,
  runId: string,
  task: string,
  query: { attempt?: number; after?: string; limit?: number },
): Promise<TaskLogPage> {
  const run = await runs.load(runId);
  const [stage, action] = task.split('.');
  if (!findTask(run, stage, action ?? '')) {
    throw new NotFoundError('TASK.NOT_FOUND', `Run ${runId} has no task ${task}; tasks are named <stage>.<action>.`);
  }
  return logs.read(runId, task, query);
}
