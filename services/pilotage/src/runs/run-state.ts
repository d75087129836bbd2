import type { RecordedEvent } from '@co/eventstore';
import type { ParamValue, WorkflowDocument } from '../workflows/workflow-definition';
import {
  RUN_FINISHED_STATUS,
  TERMINAL_RUN_STATUSES,
  type RunEvent,
  type RunStatus,
  type RunTrigger,
  type TaskOutcome,
} from './run.events';

export interface AttemptState {
  attempt: number;
  status: 'queued' | 'running' | TaskOutcome;
  notBefore?: string;
  containerId?: string;
  containerName?: string;
  startedAt?: string;
  finishedAt?: string;
  pullMs: number;
  exitCode?: number;
  reason?: string;
}

export interface TaskState {
  stage: string;
  action: string;
  status: RunStatus;
  attempts: AttemptState[];
  outputs: Record<string, string>;
  /** `false` once the component reported CO_RESULT = false for the current attempt. */
  result?: boolean;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  /** Protocol status last reported by the component (CO_TASK_STATUS). */
  reportedStatus?: string;
}

export interface StageState {
  name: string;
  status: RunStatus;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  actions: TaskState[];
}

/** A run, folded from its events. Pure data: the engine, the projection and tests share it. */
export interface RunState {
  streamId: string;
  version: number;
  id: string;
  workflowId: string;
  workflowName: string;
  project: string;
  revision: number;
  number: number;
  snapshot: WorkflowDocument;
  params: Record<string, ParamValue>;
  trigger: RunTrigger;
  status: RunStatus;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  stopRequested?: { reason: string; at: string };
  traceId?: string;
  traceparent?: string;
  tenant?: string;
  stages: StageState[];
}

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.includes(status);
}

export function findTask(state: RunState, stage: string, action: string): TaskState | undefined {
  return state.stages.find((candidate) => candidate.name === stage)?.actions.find((task) => task.action === action);
}

export function currentAttempt(task: TaskState): AttemptState | undefined {
  return task.attempts[task.attempts.length - 1];
}

/** A recorded run event as `evolve` takes it (the tenant comes from its metadata). */
export function recordedRunEvent(event: RecordedEvent) {
  return { ...(event as RecordedEvent & RunEvent), tenant: event.metadata.tenant };
}

/** Applies one event; returns a new state (the input is not modified). */
export function evolve(
  previous: RunState | undefined,
  event: RunEvent & { streamId: string; streamVersion: number; occurredAt: Date; tenant?: string },
): RunState {
  if (event.type === 'RunRequested') {
    const data = event.data;
    return {
      streamId: event.streamId,
      version: event.streamVersion,
      id: data.runId,
      workflowId: data.workflowId,
      workflowName: data.workflowName,
      project: data.project,
      revision: data.revision,
      number: data.number,
      snapshot: data.snapshot,
      params: data.params,
      trigger: data.trigger,
      status: 'queued',
      requestedAt: event.occurredAt.toISOString(),
      traceId: data.traceId,
      traceparent: data.traceparent,
      tenant: event.tenant,
      stages: data.snapshot.spec.stages.map((stage) => ({
        name: stage.name,
        status: 'queued',
        actions: stage.actions.map((action) => ({
          stage: stage.name,
          action: action.name,
          status: 'queued',
          attempts: [],
          outputs: {},
        })),
      })),
    };
  }
  if (!previous) throw new Error(`run stream ${event.streamId} does not start with RunRequested`);
  // Copy on write: only what the event touches is copied (a run of hundreds of tasks
  // folds thousands of events); the snapshot never changes and is shared.
  const state: RunState = { ...previous, version: event.streamVersion, stages: previous.stages.slice() };
  const stageOf = (name: string): StageState => {
    const index = state.stages.findIndex((candidate) => candidate.name === name);
    if (index < 0) throw new Error(`run ${state.id} has no stage ${name}`);
    const copy = { ...state.stages[index], actions: state.stages[index].actions.slice() };
    state.stages[index] = copy;
    return copy;
  };
  const task = (stage: string, action: string): TaskState => {
    const owner = stageOf(stage);
    const index = owner.actions.findIndex((candidate) => candidate.action === action);
    if (index < 0) throw new Error(`run ${state.id} has no task ${stage}.${action}`);
    const copy = { ...owner.actions[index], attempts: owner.actions[index].attempts.slice(), outputs: { ...owner.actions[index].outputs } };
    owner.actions[index] = copy;
    return copy;
  };
  const attemptOf = (target: TaskState, number: number): AttemptState => {
    const index = target.attempts.findIndex((candidate) => candidate.attempt === number);
    if (index < 0) throw new Error(`run ${state.id} has no attempt ${number} of ${target.stage}.${target.action}`);
    const copy = { ...target.attempts[index] };
    target.attempts[index] = copy;
    return copy;
  };
  switch (event.type) {
    case 'RunStarted':
      state.status = 'running';
      state.startedAt = event.data.at;
      break;
    case 'StageStarted': {
      const stage = stageOf(event.data.stage);
      stage.status = 'running';
      stage.startedAt = event.data.at;
      break;
    }
    case 'TaskQueued': {
      const target = task(event.data.stage, event.data.action);
      target.status = 'queued';
      // Each attempt reports its own result: nothing of a failed attempt carries over.
      target.result = undefined;
      target.reason = undefined;
      target.outputs = {};
      target.attempts.push({ attempt: event.data.attempt, status: 'queued', notBefore: event.data.notBefore, pullMs: 0 });
      break;
    }
    case 'TaskStarted': {
      const target = task(event.data.stage, event.data.action);
      const current = attemptOf(target, event.data.attempt);
      Object.assign(current, {
        status: 'running',
        containerId: event.data.containerId,
        containerName: event.data.containerName,
        startedAt: event.data.at,
        pullMs: event.data.pullMs,
      });
      target.status = 'running';
      target.startedAt ??= event.data.at;
      break;
    }
    case 'TaskStatusReported':
      if (event.data.status) task(event.data.stage, event.data.action).reportedStatus = event.data.status;
      break;
    case 'TaskResultRecorded': {
      const target = task(event.data.stage, event.data.action);
      Object.assign(target.outputs, event.data.outputs);
      if (event.data.result === false) target.result = false;
      break;
    }
    case 'TaskFinished': {
      const target = task(event.data.stage, event.data.action);
      const current = attemptOf(target, event.data.attempt);
      Object.assign(current, {
        status: event.data.outcome,
        finishedAt: event.data.at,
        exitCode: event.data.exitCode,
        reason: event.data.reason,
      });
      target.status = event.data.outcome;
      target.exitCode = event.data.exitCode;
      target.finishedAt = event.data.at;
      target.reason = event.data.reason;
      break;
    }
    case 'StageFinished': {
      const stage = stageOf(event.data.stage);
      stage.status = event.data.status;
      stage.finishedAt = event.data.at;
      stage.reason = event.data.reason;
      // Actions that never got an attempt (after a failure, or in a skipped stage) were skipped.
      stage.actions = stage.actions.map((action) => (action.attempts.length === 0 ? { ...action, status: 'skipped' } : action));
      break;
    }
    case 'RunStopRequested':
      state.stopRequested ??= { reason: event.data.reason, at: event.data.at };
      break;
    case 'RunSucceeded':
    case 'RunFailed':
    case 'RunStopped':
    case 'RunTimedOut':
      state.status = RUN_FINISHED_STATUS[event.type]!;
      state.finishedAt = event.data.at;
      state.reason = event.data.reason;
      break;
  }
  return state;
}
