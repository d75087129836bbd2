import type { ParamValue, WorkflowDocument } from '../workflows/workflow-definition';

/**
 * Events of the run aggregate (stream `run-<workflowId>.<number>`). The run's read
 * model, the engine's state after a restart and `GET /runs/{id}/events` all come from
 * these; nothing about a run is stored anywhere else.
 */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'timed_out' | 'skipped';
export type TaskOutcome = 'succeeded' | 'failed' | 'stopped' | 'timed_out';

export const TERMINAL_RUN_STATUSES: RunStatus[] = ['succeeded', 'failed', 'stopped', 'timed_out'];

export interface RunTrigger {
  type: 'manual' | 'rerun' | 'api';
  by?: string;
  /** The run whose snapshot a rerun repeats. */
  rerunOf?: string;
}

export interface RunRequested {
  runId: string;
  workflowId: string;
  workflowName: string;
  project: string;
  revision: number;
  number: number;
  /** The workflow exactly as it was when the run was requested (normalized). */
  snapshot: WorkflowDocument;
  params: Record<string, ParamValue>;
  trigger: RunTrigger;
  traceId?: string;
  /** Trace context of the request that asked for the run: the engine's work joins that trace. */
  traceparent?: string;
}

export interface RunStarted {
  at: string;
}

export interface StageStarted {
  stage: string;
  at: string;
}

export interface TaskQueued {
  stage: string;
  action: string;
  attempt: number;
  /** Retries wait for their backoff: the attempt may not start before this time. */
  notBefore?: string;
}

export interface TaskStarted {
  stage: string;
  action: string;
  attempt: number;
  containerId: string;
  containerName: string;
  at: string;
  /** Time spent pulling the image; not counted against any timeout. */
  pullMs: number;
}

export interface TaskStatusReported {
  stage: string;
  action: string;
  attempt: number;
  /** The component protocol event that carried it (CO_TASK_STATUS, ...). */
  event: string;
  eventId?: string;
  status?: string;
  info?: unknown;
}

export interface TaskResultRecorded {
  stage: string;
  action: string;
  attempt: number;
  outputs: Record<string, string>;
  /** `CO_RESULT = false` (stdout) or `result: false` (HTTP) marks failure. */
  result?: boolean;
  source: 'stdout' | 'http';
}

export interface TaskFinished {
  stage: string;
  action: string;
  attempt: number;
  outcome: TaskOutcome;
  exitCode?: number;
  reason?: string;
  at: string;
}

export interface StageFinished {
  stage: string;
  status: RunStatus;
  reason?: string;
  at: string;
}

export interface RunStopRequested {
  reason: string;
  by?: string;
  at: string;
}

export interface RunFinished {
  reason?: string;
  at: string;
}

export interface RunEventMap {
  RunRequested: RunRequested;
  RunStarted: RunStarted;
  StageStarted: StageStarted;
  TaskQueued: TaskQueued;
  TaskStarted: TaskStarted;
  TaskStatusReported: TaskStatusReported;
  TaskResultRecorded: TaskResultRecorded;
  TaskFinished: TaskFinished;
  StageFinished: StageFinished;
  RunStopRequested: RunStopRequested;
  RunSucceeded: RunFinished;
  RunFailed: RunFinished;
  RunStopped: RunFinished;
  RunTimedOut: RunFinished;
}

export type RunEventType = keyof RunEventMap;

export type RunEvent = { [K in RunEventType]: { type: K; data: RunEventMap[K] } }[RunEventType];

export const RUN_FINISHED_STATUS: Partial<Record<RunEventType, RunStatus>> = {
  RunSucceeded: 'succeeded',
  RunFailed: 'failed',
  RunStopped: 'stopped',
  RunTimedOut: 'timed_out',
};

export function runStreamId(workflowId: string, number: number): string {
  return `run-${workflowId}.${number}`;
}

export function taskKey(stage: string, action: string): string {
  return `${stage}.${action}`;
}
