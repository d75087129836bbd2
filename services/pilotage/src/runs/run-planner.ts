import { parseDuration } from '../workflows/durations';
import type { ActionSpec, StageSpec } from '../workflows/workflow-definition';
import type { RunEvent, TaskOutcome } from './run.events';
import { currentAttempt, type AttemptState, type RunState, type TaskState } from './run-state';

/** Without a timeout, a run, stage or action may execute for 14 days. */
export const DEFAULT_TIMEOUT_MS = 14 * 24 * 3600 * 1000;
const DEFAULT_RETRY_BACKOFF_MS = 10_000;

export interface AttemptRef {
  stage: string;
  action: string;
  attempt: number;
}

export interface StopInstruction extends AttemptRef {
  outcome: Extract<TaskOutcome, 'stopped' | 'timed_out'>;
  reason: string;
}

/** What the engine should do next for one run. */
export interface Plan {
  /** Appended in this order, at the run's current version. */
  events: RunEvent[];
  /**
   * Attempts that need an execution: queued ones that are due, and running ones (after
   * a restart nobody follows them yet). The engine skips those it already follows.
   */
  launch: AttemptRef[];
  /** Attempts to stop (running, or queued but not yet started). */
  stop: StopInstruction[];
  /** When time alone changes the plan next (a backoff or deadline ends), epoch ms. */
  wakeAt?: number;
}

function timeoutMs(value: string | number | undefined): number {
  return value === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(value);
}

function stageSpec(state: RunState, stage: string): StageSpec {
  return state.snapshot.spec.stages.find((candidate) => candidate.name === stage)!;
}

function actionSpec(state: RunState, stage: string, action: string): ActionSpec {
  return stageSpec(state, stage).actions.find((candidate) => candidate.name === action)!;
}

function isActive(attempt: AttemptState | undefined): attempt is AttemptState {
  return attempt?.status === 'queued' || attempt?.status === 'running';
}

function describe(task: TaskState): string {
  return `${task.stage}.${task.action}`;
}

/** A failed task with attempts left is retried; one with none fails its stage. */
function retriesLeft(state: RunState, task: TaskState): boolean {
  const limit = actionSpec(state, task.stage, task.action).retries?.limit ?? 0;
  return task.status === 'failed' && task.attempts.length <= limit;
}

function retryAt(state: RunState, task: TaskState): number {
  const spec = actionSpec(state, task.stage, task.action).retries;
  const base = spec?.backoff === undefined ? DEFAULT_RETRY_BACKOFF_MS : parseDuration(spec.backoff);
  const finished = Date.parse(currentAttempt(task)!.finishedAt!);
  return finished + base * 2 ** (task.attempts.length - 1);
}

function finallyFailed(state: RunState, task: TaskState): boolean {
  return (task.status === 'failed' && !retriesLeft(state, task)) || task.status === 'timed_out';
}

/**
 * Execution time only: the time a run or stage spent pulling images is added back to
 * its deadline (time in `queued` is outside it already: the clock starts at RunStarted
 * and StageStarted).
 */
function deadline(startedAt: string, limitMs: number, tasks: TaskState[]): number {
  const pulling = tasks.flatMap((task) => task.attempts).reduce((sum, attempt) => sum + attempt.pullMs, 0);
  return Date.parse(startedAt) + limitMs + pulling;
}

function formatMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

interface Termination {
  outcome: 'stopped' | 'timed_out' | 'failed';
  reason: string;
  /** Reason given to the tasks that are stopped because of it. */
  taskReason: string;
}

/**
 * Decides the next steps of a run from its state and the clock alone. Pure: the
 * engine calls it after every change and after every wake-up; replaying the same
 * events gives the same plan, which is what makes a restarted engine carry on.
 */
export function planRun(state: RunState, now: number): Plan {
  const plan: Plan = { events: [], launch: [], stop: [] };
  const at = new Date(now).toISOString();
  if (state.status === 'queued' && state.stopRequested) {
    finish(state, plan, { outcome: 'stopped', reason: state.stopRequested.reason, taskReason: state.stopRequested.reason }, at);
    return plan;
  }
  if (state.status !== 'running') return plan;
  const wake = (time: number) => {
    if (time > now && (plan.wakeAt === undefined || time < plan.wakeAt)) plan.wakeAt = time;
  };
  const allTasks = state.stages.flatMap((stage) => stage.actions);
  const running = allTasks.filter((task) => currentAttempt(task)?.status === 'running');

  // Why the run must end early, most important first.
  let termination: Termination | undefined;
  if (state.stopRequested) {
    termination = { outcome: 'stopped', reason: state.stopRequested.reason, taskReason: state.stopRequested.reason };
  }
  const runLimit = timeoutMs(state.snapshot.spec.timeout);
  const runDeadline = deadline(state.startedAt!, runLimit, allTasks);
  if (!termination && now >= runDeadline) {
    // Tasks running at the deadline; after they were stopped, those stopped for it.
    const stoppedForIt = allTasks.filter((task) => task.status === 'timed_out' && task.reason?.startsWith('run timed out'));
    const names = (running.length ? running : stoppedForIt).map(describe).join(', ');
    const reason = `run timed out after ${formatMs(runLimit)}${names ? ` while ${names} was running` : ''}`;
    termination = { outcome: 'timed_out', reason, taskReason: reason };
  } else wake(runDeadline);

  const stage = state.stages.find((candidate) => candidate.status === 'running');
  if (!termination && stage) {
    const limit = timeoutMs(stageSpec(state, stage.name).timeout);
    const stageDeadline = deadline(stage.startedAt!, limit, stage.actions);
    if (now >= stageDeadline) {
      const active = stage.actions.filter((task) => currentAttempt(task)?.status === 'running');
      const names = (active.length ? active : stage.actions.filter((task) => task.status === 'timed_out' && task.reason?.startsWith(`stage ${stage.name} timed out`))).map(describe);
      const reason = `stage ${stage.name} timed out after ${formatMs(limit)}${names.length ? ` while ${names.join(', ')} was running` : ''}`;
      termination = { outcome: 'timed_out', reason, taskReason: reason };
    } else wake(stageDeadline);
  }

  // Per-action timeouts count from the container's start.
  for (const task of running) {
    const attempt = currentAttempt(task)!;
    const limit = timeoutMs(actionSpec(state, task.stage, task.action).timeout);
    const end = Date.parse(attempt.startedAt!) + limit;
    if (now >= end) {
      plan.stop.push({ ...ref(task, attempt), outcome: 'timed_out', reason: `action ${describe(task)} timed out after ${formatMs(limit)}` });
    } else wake(end);
  }

  if (!termination && stage) {
    const failed = stage.actions.find((task) => finallyFailed(state, task));
    if (failed) {
      const timedOut = failed.status === 'timed_out';
      const reason = timedOut ? failed.reason ?? `action ${describe(failed)} timed out` : `action ${describe(failed)} failed: ${failed.reason ?? 'unknown reason'}`;
      termination = {
        outcome: timedOut ? 'timed_out' : 'failed',
        reason,
        taskReason: `stopped because ${describe(failed)} ${timedOut ? 'timed out' : 'failed'}`,
      };
    }
  }

  if (termination) {
    finish(state, plan, termination, at);
    return plan;
  }

  // Normal progress: one step of events at a time; the engine appends them, folds
  // them in and plans again, so every decision is made on recorded state.
  if (!stage) {
    const next = state.stages.find((candidate) => candidate.status === 'queued');
    plan.events.push(next ? { type: 'StageStarted', data: { stage: next.name, at } } : { type: 'RunSucceeded', data: { at } });
    return plan;
  }
  const parallel = stageSpec(state, stage.name).sequencing === 'parallel';
  for (const task of stage.actions) {
    if (task.status !== 'failed' || !retriesLeft(state, task)) continue;
    const due = retryAt(state, task);
    queue(plan, task, task.attempts.length + 1, due > now ? new Date(due).toISOString() : undefined);
  }
  if (parallel) {
    for (const task of stage.actions) if (task.attempts.length === 0) queue(plan, task, 1);
  } else {
    const next = stage.actions.find((task) => task.status !== 'succeeded');
    if (next && next.attempts.length === 0) queue(plan, next, 1);
  }
  if (plan.events.length > 0) return plan;
  for (const task of stage.actions) {
    const attempt = currentAttempt(task);
    if (attempt?.status === 'running') plan.launch.push(ref(task, attempt));
    if (attempt?.status !== 'queued') continue;
    const notBefore = attempt.notBefore ? Date.parse(attempt.notBefore) : 0;
    if (notBefore > now) wake(notBefore);
    else plan.launch.push(ref(task, attempt));
  }
  if (stage.actions.every((task) => task.status === 'succeeded')) {
    plan.events.push({ type: 'StageFinished', data: { stage: stage.name, status: 'succeeded', at } });
  }
  return plan;
}

function ref(task: TaskState, attempt: AttemptState): AttemptRef {
  return { stage: task.stage, action: task.action, attempt: attempt.attempt };
}

function queue(plan: Plan, task: TaskState, attempt: number, notBefore?: string) {
  plan.events.push({ type: 'TaskQueued', data: { stage: task.stage, action: task.action, attempt, ...(notBefore ? { notBefore } : {}) } });
}

/** Stops what is active; once nothing is, closes the stages and the run. */
function finish(state: RunState, plan: Plan, termination: Termination, at: string) {
  const stopping = new Set(plan.stop.map((instruction) => `${instruction.stage}.${instruction.action}`));
  let active = false;
  for (const task of state.stages.flatMap((stage) => stage.actions)) {
    const attempt = currentAttempt(task);
    if (!isActive(attempt)) continue;
    active = true;
    if (stopping.has(describe(task))) continue;
    plan.stop.push({
      ...ref(task, attempt),
      outcome: termination.outcome === 'timed_out' ? 'timed_out' : 'stopped',
      reason: termination.taskReason,
    });
  }
  if (active) return;
  const stageStatus = termination.outcome;
  for (const stage of state.stages) {
    if (stage.status === 'running') {
      plan.events.push({ type: 'StageFinished', data: { stage: stage.name, status: stageStatus, reason: termination.reason, at } });
    } else if (stage.status === 'queued') {
      plan.events.push({ type: 'StageFinished', data: { stage: stage.name, status: 'skipped', reason: termination.reason, at } });
    }
  }
  const type = termination.outcome === 'stopped' ? 'RunStopped' : termination.outcome === 'timed_out' ? 'RunTimedOut' : 'RunFailed';
  plan.events.push({ type, data: { reason: termination.reason, at } });
}
