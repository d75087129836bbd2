import type { Logger } from 'pino';
import type { RunEvent } from '../runs/run.events';
import { taskKey } from '../runs/run.events';
import type { AttemptRef, StopInstruction } from '../runs/run-planner';
import { currentAttempt, findTask, type RunState } from '../runs/run-state';
import {
  CONTAINER_LABELS,
  ContainerNameTakenError,
  RuntimeError,
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerSpec,
} from '../runtime/container-runtime';
import { ExpressionError, interpolate, UnresolvedReferenceError } from '../workflows/expressions';
import { parseCpu, parseDuration, parseMemory } from '../workflows/durations';
import type { ActionSpec } from '../workflows/workflow-definition';
import { runnableAction } from './component-action';
import type { EngineSettings } from './engine-settings';
import { OutputCollector } from './output-parser';
import type { TaskLogLine, TaskLogStore } from './task-logs';
import { maskSecretValues } from '../runs/run-secrets';
import type { TaskTokens } from './task-token';
import { WORKSPACE_PATH, type RunWorkspaces } from './run-workspace';

export const PROTOCOL_EVENTS = ['CO_COMPONENT_START', 'CO_TASK_START', 'CO_TASK_STATUS', 'CO_TASK_RESULT', 'CO_COMPONENT_STOP'] as const;

export interface ExecutionContext {
  runtime: ContainerRuntime;
  logs: TaskLogStore;
  tokens: TaskTokens;
  settings: EngineSettings;
  /** Identifies this engine's containers among others on the same container engine. */
  engineId: string;
  logger: Logger;
  /** The run's workspace volume, mounted in each of its containers. */
  workspaces: RunWorkspaces;
  /** Appends events to the run (serialized by the run's driver); resolves once recorded. */
  record(events: RunEvent[]): Promise<void>;
  /** The run as recorded now. */
  state(): RunState;
  /** The run's secret values and what to mask (longest first). */
  secrets(): Promise<{ values: Record<string, string>; mask: string[] }>;
}

const LOG_FLUSH_LINES = 200;
const LOG_FLUSH_MS = 100;
/** How long a log stream may stay open after its container exited, and how often that is checked. */
const LOG_DRAIN_MS = 3000;
const LOG_CHECK_MS = 2000;

/** The engine is shutting down: the attempt is left to the next engine to adopt. */
export class DetachedError extends Error {
  constructor() {
    super('the engine stopped following this task');
  }
}

export function containerName(runId: string, ref: AttemptRef): string {
  return `co-${runId}-${ref.stage}-${ref.action}-${ref.attempt}`;
}

/**
 * One attempt of one task: find or create its container, start it, follow its log,
 * wait for it, record the result. A container that already exists (an engine that
 * restarted mid-run) is adopted, never created a second time: its name is fixed by
 * run, task and attempt, and the container engine refuses a second one.
 */
export class TaskExecution {
  readonly done: Promise<void>;
  private stopRequest?: StopInstruction;
  private containerId?: string;
  private engineSeq = 0;
  private pending: TaskLogLine[] = [];
  private flushTimer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** The log reader waits for room in the store's queue (the bus is slow or away). */
  private waitingForStore = false;
  private readonly task: string;
  /** Ends the log stream (detached, or a stream left open after the container exited). */
  private readonly abort = new AbortController();
  /** Aborted when the engine lets go of the task: nothing waits for the store any longer. */
  private readonly detaching = new AbortController();
  /** Secret values of the run, longest first: replaced by `***` in every line, output and reason this task records. */
  private mask: string[] = [];
  private readonly secretsReady: Promise<Record<string, string>>;

  constructor(
    private readonly ref: AttemptRef,
    private readonly context: ExecutionContext,
  ) {
    this.task = taskKey(ref.stage, ref.action);
    // Engine lines sort after any earlier engine line of this attempt, also across restarts.
    this.engineSeq = Date.now() * 1000;
    this.secretsReady = context.secrets().then((secrets) => {
      this.mask = secrets.mask;
      return secrets.values;
    });
    // Awaited by run(), which reports a failure; this keeps it from being unhandled meanwhile.
    this.secretsReady.catch(() => undefined);
    this.done = this.run().catch((error: unknown) => {
      if (this.detached || error instanceof DetachedError) return;
      // The error's text may quote what the task was given: masked like its log.
      const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
      this.context.logger.error(
        { task: this.task, attempt: ref.attempt, reason: this.masked(message), ...(stack ? { stack: this.masked(stack) } : {}) },
        'task execution failed',
      );
    });
  }

  private detached = false;
  private exited = false;

  /** Lets go of the container without stopping it; nothing more is recorded. */
  detach(): void {
    this.detached = true;
    this.detaching.abort();
    this.abort.abort();
  }

  get key(): string {
    return `${this.task}#${this.ref.attempt}`;
  }

  /** Stops the attempt (idempotent): SIGTERM, the grace period, then SIGKILL. */
  stop(instruction: StopInstruction): void {
    // Exited on its own already: its own result stands.
    if (this.stopRequest || this.exited) return;
    this.stopRequest = instruction;
    this.engineLine(`stopping: ${instruction.reason}`);
    if (this.containerId) {
      void this.context.runtime.stop(this.containerId, this.context.settings.stopGraceSeconds).catch((error: unknown) => {
        this.engineLine(`could not stop the container: ${(error as Error).message}`, 'stderr');
      });
    }
  }

  private get spec(): ActionSpec {
    const stage = this.context.state().snapshot.spec.stages.find((candidate) => candidate.name === this.ref.stage)!;
    return runnableAction(stage.actions.find((candidate) => candidate.name === this.ref.action)!);
  }

  private async run(): Promise<void> {
    const { runtime } = this.context;
    const state = this.context.state();
    const name = containerName(state.id, this.ref);
    const recordedStart = currentAttempt(findTask(state, this.ref.stage, this.ref.action)!)?.status === 'running';
    let info: ContainerInfo | undefined;
    let pullMs = 0;
    let secrets: Record<string, string>;
    try {
      secrets = await this.secretsReady;
    } catch (error) {
      return await this.finish('failed', undefined, `the run's secrets could not be read (${(error as Error).message})`);
    }
    try {
      // A recorded start means the container exists (or existed): look for it. Otherwise
      // create it; if an earlier life of the engine did, the name is taken and it is adopted.
      info = recordedStart ? await runtime.inspect(name) : undefined;
      if (info) {
        this.engineLine(`adopting container ${name} (${info.state})`);
      } else if (recordedStart) {
        return await this.finish('failed', undefined, `the container ${name} disappeared while the engine was away`);
      } else {
        if (this.stopRequested()) return await this.finishStopped();
        const started = Date.now();
        await this.ensureImage();
        pullMs = Date.now() - started;
        if (this.stopRequested()) return await this.finishStopped();
        try {
          const id = await this.createContainer(name, secrets);
          info = { id, name, state: 'created', labels: {} };
          this.engineLine(`container ${name} created`);
        } catch (error) {
          // Created by an earlier life of this engine after all: adopt it.
          if (!(error instanceof ContainerNameTakenError)) throw error;
          info = await runtime.inspect(name);
          if (!info) throw error;
          this.engineLine(`adopting container ${name} (${info.state})`);
        }
      }
      this.containerId = info.id;
      if (info.state === 'created') {
        if (this.stopRequested()) {
          await runtime.remove(info.id);
          return await this.finishStopped();
        }
        await runtime.start(info.id);
        info = { ...info, state: 'running', startedAt: new Date() };
        this.engineLine('container started');
      }
    } catch (error) {
      return await this.finish('failed', undefined, this.describeRuntimeError(error));
    }
    if (!recordedStart) {
      await this.context.record([
        {
          type: 'TaskStarted',
          data: {
            ...this.ref,
            containerId: info.id,
            containerName: name,
            at: (info.startedAt ?? new Date()).toISOString(),
            pullMs,
          },
        },
      ]);
    }
    // A stop that arrived before the container id was known.
    if (this.stopRequested()) void runtime.stop(info.id, this.context.settings.stopGraceSeconds).catch(() => undefined);
    const outputs = new OutputCollector(new Set(this.spec.outputs ?? []));
    let exitCode: number;
    let oomKilled = false;
    try {
      const following = this.followLogs(info.id, outputs);
      await this.watchLogStream(info.id, following);
      if (this.detached) throw new DetachedError();
      // Asked once the log has ended: asked earlier, Podman answers on its own polling grid.
      exitCode = await runtime.wait(info.id);
      this.exited = true;
      const finished = await runtime.inspect(info.id);
      oomKilled = finished?.oomKilled ?? false;
      if (finished?.exitCode !== undefined) exitCode = finished.exitCode;
    } catch (error) {
      if (this.detached) throw new DetachedError();
      return await this.finish('failed', undefined, this.describeRuntimeError(error));
    }
    this.engineLine(`container exited with code ${exitCode}${oomKilled ? ' (killed: out of memory)' : ''}`);
    const parsed = outputs.result;
    for (const key of parsed.undeclared) this.engineLine(`output ${key} is not declared by the action; ignored`, 'stderr');
    const recorded: RunEvent[] = [];
    if (Object.keys(parsed.outputs).length > 0 || parsed.result === false) {
      recorded.push({
        type: 'TaskResultRecorded',
        data: {
          ...this.ref,
          outputs: Object.fromEntries(Object.entries(parsed.outputs).map(([key, value]) => [key, this.masked(value)])),
          ...(parsed.result === false ? { result: false } : {}),
          source: 'stdout',
        },
      });
    }
    const stopped = this.stopRequested();
    const httpResult = findTask(this.context.state(), this.ref.stage, this.ref.action)?.result;
    let outcome: 'succeeded' | 'failed' | 'stopped' | 'timed_out' = 'succeeded';
    let reason: string | undefined;
    if (stopped) {
      outcome = stopped.outcome;
      reason = stopped.reason;
    } else if (oomKilled) {
      outcome = 'failed';
      reason = `the container was killed for using more memory than its limit (${this.spec.resources?.memory ?? 'engine default'}); exit code ${exitCode}`;
    } else if (exitCode === 137) {
      outcome = 'failed';
      const memory = this.spec.resources?.memory;
      reason = memory
        ? `exit code 137: the container was killed (SIGKILL); with a memory limit of ${memory} this usually means it ran out of memory`
        : 'exit code 137: the container was killed (SIGKILL)';
    } else if (exitCode !== 0) {
      outcome = 'failed';
      reason = `exit code ${exitCode}`;
    } else if (parsed.result === false || httpResult === false) {
      outcome = 'failed';
      reason = 'the component reported CO_RESULT = false';
    } else if (parsed.violation) {
      outcome = 'failed';
      reason = parsed.violation;
    } else {
      const missing = (this.spec.outputs ?? []).filter((key) => !(key in parsed.outputs) && !(key in (findTask(this.context.state(), this.ref.stage, this.ref.action)?.outputs ?? {})));
      if (missing.length > 0) this.engineLine(`declared outputs not written: ${missing.join(', ')}`, 'stderr');
    }
    await this.finish(outcome, exitCode, reason, recorded);
    if (outcome === 'succeeded' || !this.context.settings.keepFailedContainers) {
      await runtime.remove(info.id).catch((error: unknown) => {
        this.context.logger.warn({ err: error, container: name }, 'could not remove a finished task container');
      });
    }
  }

  /**
   * Waits for the log stream to end. Some engines now and then leave it open after the
   * container exited (seen with Podman); checked now and then, such a stream is cut
   * once it has had time to drain, rather than hang the task.
   */
  private async watchLogStream(id: string, following: Promise<void>): Promise<void> {
    let ended = false;
    const done = following.finally(() => (ended = true));
    const pause = (ms: number) => Promise.race([done, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    for (;;) {
      await pause(LOG_CHECK_MS);
      if (ended) return done;
      // A reader held back by the store has not had its chance to drain the stream yet.
      if (this.waitingForStore) continue;
      const info = await this.context.runtime.inspect(id).catch(() => undefined);
      if (info && info.state !== 'exited') continue;
      await pause(LOG_DRAIN_MS);
      if (ended) return done;
      if (this.waitingForStore) continue;
      this.abort.abort();
      this.engineLine(`the log stream stayed open ${LOG_DRAIN_MS} ms after the container exited; stopped reading it`, 'stderr');
      return done;
    }
  }

  /** Read through a method: the request can arrive while any await is pending. */
  private stopRequested(): StopInstruction | undefined {
    return this.stopRequest;
  }

  private finishStopped(): Promise<void> {
    const request = this.stopRequested()!;
    return this.finish(request.outcome, undefined, request.reason);
  }

  private async ensureImage(): Promise<void> {
    const { runtime } = this.context;
    const image = this.spec.image!;
    const policy = this.spec.pullPolicy ?? 'IfNotPresent';
    if (policy === 'Never') {
      if (!(await runtime.hasImage(image))) {
        throw new RuntimeError(`image ${image} is not present on the container engine and the pull policy is Never`, 'image-not-found');
      }
      return;
    }
    if (policy === 'IfNotPresent' && (await runtime.hasImage(image))) return;
    this.engineLine(`pulling image ${image}`);
    await runtime.pull(image, (message) => this.engineLine(message));
    this.engineLine(`pulled image ${image}`);
  }

  private async createContainer(name: string, secrets: Record<string, string>): Promise<string> {
    const state = this.context.state();
    const spec = this.spec;
    const outputs = (stage: string, action: string, key: string) => findTask(state, stage, action)?.outputs[key];
    const expressionContext = { buildId: state.number, params: state.params, outputs };
    const inputs = interpolate(spec.inputs ?? {}, expressionContext);
    // Secrets only in env (the workflow validator allows them nowhere else; elsewhere they stay unresolved).
    const env = interpolate({ ...(state.snapshot.spec.env ?? {}), ...(spec.env ?? {}) }, { ...expressionContext, secrets }) as Record<string, string>;
    const timeoutSeconds = Math.ceil((spec.timeout === undefined ? 14 * 86400_000 : parseDuration(spec.timeout)) / 1000);
    const token = this.context.tokens.issue(state.id, this.task, this.ref.attempt);
    const protocol: Record<string, string> = {
      CO_DATA: JSON.stringify(inputs),
      CO_RUN_ID: state.id,
      CO_BUILD_ID: String(state.number),
      CO_WORKFLOW: state.workflowName,
      CO_WORKFLOW_ID: state.workflowId,
      CO_STAGE: this.ref.stage,
      CO_ACTION: this.ref.action,
      CO_TASK_ID: this.task,
      CO_TASK_ATTEMPT: String(this.ref.attempt),
      CO_ACTION_TIMEOUT: String(timeoutSeconds),
      CO_EVENT_TOKEN: token,
      CO_WORKSPACE: WORKSPACE_PATH,
    };
    const base = this.context.settings.eventBaseUrl;
    if (base) {
      const url = `${base}/api/v1/runs/${state.id}/tasks/${this.task}/attempts/${this.ref.attempt}/events`;
      protocol.CO_EVENT_URL = url;
      for (const event of ['CO_COMPONENT_START', 'CO_TASK_START', 'CO_TASK_STATUS', 'CO_TASK_RESULT', 'CO_COMPONENT_STOP']) {
        protocol[event] = `${url}/${event}`;
      }
    }
    const workspace = await this.context.workspaces.prepare(state.id);
    const container: ContainerSpec = {
      name,
      image: spec.image!,
      command: spec.command ? (interpolate(spec.command, expressionContext) as string[]) : undefined,
      args: spec.args ? (interpolate(spec.args, expressionContext) as string[]) : undefined,
      env: { ...stringify(env), ...protocol },
      labels: {
        [CONTAINER_LABELS.managed]: this.context.engineId,
        [CONTAINER_LABELS.run]: state.id,
        [CONTAINER_LABELS.task]: this.task,
        [CONTAINER_LABELS.attempt]: String(this.ref.attempt),
      },
      workingDir: spec.workingDir,
      cpu: spec.resources?.cpu === undefined ? undefined : parseCpu(spec.resources.cpu),
      memoryBytes: spec.resources?.memory === undefined ? undefined : parseMemory(spec.resources.memory),
      network: this.context.settings.containerNetwork,
      volumes: [workspace],
    };
    return this.context.runtime.create(container);
  }

  private async followLogs(id: string, outputs: OutputCollector): Promise<void> {
    let counter = 0;
    for await (const line of this.context.runtime.logs(id, { follow: true, signal: this.abort.signal })) {
      counter += 1;
      if (line.stream === 'stdout') outputs.accept(line.text);
      this.push({
        runId: this.context.state().id,
        task: this.task,
        attempt: this.ref.attempt,
        source: 'container',
        seq: counter,
        stream: line.stream,
        // Some engines stamp whole seconds only (Podman): a line seen live gets the
        // engine's clock, which orders it among the engine's own lines; a replayed
        // line (adoption after a restart) keeps the runtime's stamp.
        time: Math.abs(Date.now() - line.time.getTime()) < 1500 ? new Date() : line.time,
        text: line.text,
      });
      // Back-pressure: while the store's queue is full the stream is not read on (the
      // container engine keeps the output meanwhile), so memory stays bounded.
      if (this.pending.length >= LOG_FLUSH_LINES) {
        this.waitingForStore = true;
        try {
          await this.whileAttached(this.flush());
        } finally {
          this.waitingForStore = false;
        }
      }
    }
    await this.whileAttached(this.flush());
  }

  private engineLine(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.push({
      runId: this.context.state().id,
      task: this.task,
      attempt: this.ref.attempt,
      source: 'engine',
      seq: ++this.engineSeq,
      stream,
      time: new Date(),
      text,
    });
  }

  /** Collects a line; a timer hands it over soon, or the log reader at LOG_FLUSH_LINES (waiting for room). */
  private push(line: TaskLogLine): void {
    this.pending.push(line);
    this.flushTimer ??= setTimeout(() => void this.flush(), LOG_FLUSH_MS);
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const lines = this.pending;
    this.pending = [];
    const state = this.context.state();
    this.flushing = this.flushing.then(async () => {
      if (lines.length === 0) return;
      // A line may be pushed before the secrets are read; none leaves before they are.
      await this.secretsReady.catch(() => undefined);
      if (this.mask.length > 0) for (const line of lines) line.text = this.masked(line.text);
      try {
        await this.context.logs.write(lines, {
          tenant: state.tenant,
          project: state.project,
          workflowId: state.workflowId,
          traceparent: state.traceparent,
        });
      } catch (error) {
        this.context.logger.error({ err: error, task: this.task }, 'could not store task log lines');
      }
    });
    return this.flushing;
  }

  private async finish(
    outcome: 'succeeded' | 'failed' | 'stopped' | 'timed_out',
    exitCode: number | undefined,
    reason: string | undefined,
    before: RunEvent[] = [],
  ): Promise<void> {
    if (this.detached) throw new DetachedError();
    if (reason) reason = this.masked(reason);
    if (reason && outcome !== 'succeeded') this.engineLine(reason, 'stderr');
    await this.logsPublished();
    if (this.detached) throw new DetachedError();
    await this.context.record([
      ...before,
      {
        type: 'TaskFinished',
        data: { ...this.ref, outcome, ...(exitCode === undefined ? {} : { exitCode }), ...(reason ? { reason } : {}), at: new Date().toISOString() },
      },
    ]);
  }

  /**
   * Hands the last lines over and waits until the bus acknowledged every line of this
   * attempt, at most the store's drain time. Until the end is recorded, an engine that
   * crashes leaves the task running: the next one adopts the container and replays its
   * log under the same keys. Once it is recorded the container is removed and its lines
   * live only in the store's memory.
   */
  private async logsPublished(): Promise<void> {
    const drainMs = this.context.logs.drainMs;
    const deadline = Date.now() + drainMs;
    const handedOver = await this.whileAttached(this.flush(), drainMs);
    const acknowledged =
      handedOver &&
      (await this.context.logs.acknowledged(
        { runId: this.context.state().id, task: this.task, attempt: this.ref.attempt },
        { timeoutMs: Math.max(0, deadline - Date.now()), signal: this.detaching.signal },
      ));
    if (!acknowledged && !this.detached) {
      this.context.logger.warn(
        { task: this.task, attempt: this.ref.attempt, waitedMs: drainMs },
        'the bus did not acknowledge all task log lines in time; recording the end of the task anyway (lines still queued are lost if the engine stops before they are published)',
      );
    }
  }

  /** Resolves `true` once `work` is done, `false` once the task is detached or `timeoutMs` passed. */
  private async whileAttached(work: Promise<unknown>, timeoutMs?: number): Promise<boolean> {
    const signal = this.detaching.signal;
    if (signal.aborted) return false;
    let timer: NodeJS.Timeout | undefined;
    let abandon: (() => void) | undefined;
    const cut = new Promise<false>((resolve) => {
      abandon = () => resolve(false);
      signal.addEventListener('abort', abandon, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(abandon, timeoutMs).unref();
    });
    try {
      return await Promise.race([work.then(() => true as const), cut]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abandon!);
    }
  }

  private masked(text: string): string {
    return maskSecretValues(text, this.mask);
  }

  private describeRuntimeError(error: unknown): string {
    if (error instanceof RuntimeError || error instanceof UnresolvedReferenceError || error instanceof ExpressionError) return error.message;
    return `container engine error: ${(error as Error).message}`;
  }
}

function stringify(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
}
