import type { Logger } from 'pino';
import { ConcurrencyConflictError, DEFAULT_FEED_OPTIONS, EventFeed, type EventStore, type RecordedEvent } from '@co/eventstore';
import type { RunEvent } from '../runs/run.events';
import { taskKey } from '../runs/run.events';
import { planRun, type AttemptRef, type StopInstruction } from '../runs/run-planner';
import { currentAttempt, evolve, findTask, isTerminal, recordedRunEvent, type RunState } from '../runs/run-state';
import { CONTAINER_LABELS, type ContainerRuntime } from '../runtime/container-runtime';
import type { EngineSettings } from './engine-settings';
import type { TaskLogStore } from './task-logs';
import type { TaskTokens } from './task-token';
import type { EngineMetrics } from './engine-metrics';
import type { LogMaskRegistrar } from './log-masks';
import { maskList, type RunSecretStore } from '../runs/run-secrets';
import { TERMINAL_RUN_STATUSES } from '../runs/run.events';
import { DetachedError, TaskExecution } from './task-execution';
import { RunWorkspaces, WORKSPACE_SWEEP_INTERVAL_MS } from './run-workspace';

export interface EngineDependencies {
  store: EventStore;
  runtime: ContainerRuntime;
  logs: TaskLogStore;
  tokens: TaskTokens;
  settings: EngineSettings;
  /** Secret values of runs that have not ended. */
  secrets: RunSecretStore;
  /** Hands each run's secret values to logarithm before its first task starts. */
  masks: LogMaskRegistrar;
  engineId: string;
  logger: Logger;
  metrics?: EngineMetrics;
  /**
   * Where to start following the log, and the stream ids of runs not finished as of
   * at least that position (the runs projection's checkpoint, then its rows).
   */
  activeRuns(): Promise<{ position: number; streamIds: string[] }>;
}


/**
 * Drives one run: after every change it asks the planner what comes next, appends
 * that, and starts or stops containers. Everything it does for a run happens one
 * step at a time in order, so its appends never race each other; an append that
 * races someone else's (a stop request) reloads the stream and plans again.
 */
class RunDriver {
  state: RunState;
  private readonly executions = new Map<string, TaskExecution>();
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private secretValues?: Promise<RunSecretValues>;

  constructor(
    initial: RunState,
    private readonly engine: Engine,
  ) {
    this.state = initial;
  }

  /** Events appended by anyone, as they show up in the log. */
  receive(event: RecordedEvent): void {
    this.enqueue(async () => {
      if (event.streamVersion <= this.state.version) return;
      if (event.streamVersion !== this.state.version + 1) {
        await this.reload();
        return;
      }
      this.state = evolve(this.state, recordedRunEvent(event));
    });
  }

  /** Appends events at the current version; used by task executions and the planner. */
  record(events: RunEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new DetachedError());
    return this.enqueue(() => this.append(events));
  }

  kick(): void {
    this.enqueue(async () => undefined);
  }

  /** Set once the engine let this queued run start (before RunStarted is recorded). */
  admitted = false;

  admit(): void {
    this.admitted = true;
    this.enqueue(async () => {
      if (this.state.status === 'queued' && !this.state.stopRequested) {
        await this.append([{ type: 'RunStarted', data: { at: new Date().toISOString() } }], true);
      }
    });
  }

  /**
   * The run's secret values, and the list to mask (longest first), read once; before they
   * are handed to any task the values are registered with logarithm (first attempt awaited,
   * retried in the background if it fails).
   */
  secrets(): Promise<RunSecretValues> {
    this.secretValues ??= this.loadSecrets().catch((error: unknown) => {
      this.secretValues = undefined;
      throw error;
    });
    return this.secretValues;
  }

  private async loadSecrets(): Promise<RunSecretValues> {
    const values = await this.engine.deps.secrets.load(this.state.id);
    const mask = maskList(values);
    const [org, project] = this.state.project.split('/');
    await this.engine.deps.masks.register({ org, project, run: this.state.id, values: mask });
    return { values, mask };
  }

  get activeExecutions(): number {
    return this.executions.size;
  }

  /** Stops driving: executions let go of their containers (which keep running) and record nothing more. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const executions = [...this.executions.values()];
    for (const execution of executions) execution.detach();
    await Promise.all(executions.map((execution) => execution.done));
    await this.chain;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.closed) return;
      await step();
      await this.advance();
    });
    this.chain = run.catch((error: unknown) => {
      this.engine.deps.logger.error({ err: error, run: this.state.id }, 'run step failed; retrying in 1 s');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.kick(), 1000);
    });
    return run;
  }

  /**
   * With `planned`, the events were decided on the state as it was: after a lost race
   * they are dropped and the caller plans again on the reloaded state. Otherwise (an
   * execution's own facts, which nobody else writes) they are appended after reload.
   */
  private async append(events: RunEvent[], planned = false): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const batch = planned ? events : this.withConsequences(events);
        const recorded = await this.engine.deps.store.append<RunEvent['data']>(this.state.streamId, this.state.version, batch, {
          actor: 'system:pilotage',
          tenant: this.state.tenant,
          correlationId: this.state.id,
          ...(this.state.traceparent ? { traceparent: this.state.traceparent } : {}),
        });
        for (const event of recorded as unknown as RecordedEvent[]) {
          if (event.type === 'TaskFinished') {
            const { stage, action, attempt } = event.data as { stage: string; action: string; attempt: number };
            const started = findTask(this.state, stage, action)?.attempts.find((candidate) => candidate.attempt === attempt)?.startedAt;
            this.engine.deps.metrics?.recorded(event, started);
          } else this.engine.deps.metrics?.recorded(event);
          this.state = evolve(this.state, recordedRunEvent(event));
        }
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= 10) throw error;
        await this.reload();
        if (planned) return;
      }
    }
  }

  /**
   * An execution's facts plus what the planner decides from them at once (a finished
   * task's stage moving on, the next task queued): one append instead of several, which
   * is most of the time between one task's end and the next one's start.
   */
  private withConsequences(events: RunEvent[]): RunEvent[] {
    const batch = [...events];
    let tentative = this.state;
    const fold = (added: RunEvent[]) => {
      for (const event of added) {
        tentative = evolve(tentative, { ...event, streamId: tentative.streamId, streamVersion: tentative.version + 1, occurredAt: new Date(), tenant: tentative.tenant });
      }
    };
    fold(events);
    for (let round = 0; round < 10; round++) {
      const plan = planRun(tentative, Date.now());
      if (plan.events.length === 0) break;
      batch.push(...plan.events);
      fold(plan.events);
    }
    return batch;
  }

  private async reload(): Promise<void> {
    const events = await this.engine.deps.store.readStream(this.state.streamId, this.state.version + 1);
    for (const event of events) this.state = evolve(this.state, recordedRunEvent(event));
  }

  /** Plans and acts until the plan holds nothing new to append. */
  private async advance(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      const plan = planRun(this.state, Date.now());
      for (const instruction of plan.stop) this.stopAttempt(instruction);
      if (plan.events.length > 0) {
        await this.append(plan.events, true);
        continue;
      }
      for (const ref of plan.launch) this.execution(ref);
      clearTimeout(this.timer);
      if (plan.wakeAt !== undefined) {
        this.timer = setTimeout(() => this.kick(), Math.min(Math.max(plan.wakeAt - Date.now(), 0) + 5, 2 ** 31 - 1));
      }
      if (isTerminal(this.state.status)) this.engine.finished(this);
      return;
    }
    throw new Error(`run ${this.state.id}: the plan did not settle after 100 rounds`);
  }

  /** The execution following an attempt, started (or adopting its container) when there is none. */
  private execution(ref: AttemptRef): TaskExecution | undefined {
    const key = `${taskKey(ref.stage, ref.action)}#${ref.attempt}`;
    const existing = this.executions.get(key);
    if (existing || this.closed) return existing;
    const execution = new TaskExecution(ref, {
      runtime: this.engine.deps.runtime,
      logs: this.engine.deps.logs,
      tokens: this.engine.deps.tokens,
      settings: this.engine.deps.settings,
      engineId: this.engine.deps.engineId,
      logger: this.engine.deps.logger,
      workspaces: this.engine.workspaces,
      record: (events) => this.record(events),
      state: () => this.state,
      secrets: () => this.secrets(),
    });
    this.executions.set(key, execution);
    void execution.done.then(() => {
      this.executions.delete(key);
      this.kick();
    });
    return execution;
  }

  private stopAttempt(instruction: StopInstruction): void {
    const key = `${taskKey(instruction.stage, instruction.action)}#${instruction.attempt}`;
    const task = findTask(this.state, instruction.stage, instruction.action);
    const running = task && currentAttempt(task)?.attempt === instruction.attempt && currentAttempt(task)?.status === 'running';
    // A running attempt nobody follows (the engine restarted): adopt it to stop it.
    const execution = running ? this.execution(instruction) : this.executions.get(key);
    if (execution) {
      execution.stop(instruction);
      return;
    }
    // Never launched: nothing to stop but the record (checked again when its turn comes).
    this.enqueue(async () => {
      const task = findTask(this.state, instruction.stage, instruction.action);
      const attempt = task ? currentAttempt(task) : undefined;
      if (this.executions.has(key) || attempt?.attempt !== instruction.attempt || attempt.status !== 'queued') return;
      await this.append([
        {
          type: 'TaskFinished',
          data: { ...instruction, outcome: instruction.outcome, reason: instruction.reason, at: new Date().toISOString() },
        },
      ]);
    });
  }
}

export interface RunSecretValues {
  values: Record<string, string>;
  /** The values to replace by `***`, longest first. */
  mask: string[];
}

/**
 * The engine: follows pilotage's event log, keeps a driver per unfinished run, admits
 * queued runs within each workflow's concurrency limit and, at start, picks up every
 * unfinished run where its events left it (adopting containers that still exist).
 */
export class Engine {
  private readonly drivers = new Map<string, RunDriver>();
  private feed: EventFeed;
  private position = 0;
  private following?: Promise<void>;
  private stopping = false;
  private wake?: () => void;
  private unsubscribe?: () => void;
  readonly workspaces: RunWorkspaces;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(readonly deps: EngineDependencies) {
    this.feed = new EventFeed(deps.store, DEFAULT_FEED_OPTIONS);
    this.workspaces = new RunWorkspaces(deps.runtime, deps.engineId, deps.logger);
  }

  async start(): Promise<void> {
    if (this.following) return;
    this.stopping = false;
    this.feed = new EventFeed(this.deps.store, DEFAULT_FEED_OPTIONS);
    const active = await this.deps.activeRuns();
    this.position = active.position;
    for (const streamId of active.streamIds) {
      const events = await this.deps.store.readStream(streamId);
      if (events.length === 0) continue;
      let state: RunState | undefined;
      for (const event of events) state = evolve(state, recordedRunEvent(event));
      if (!state || isTerminal(state.status)) continue;
      this.drivers.set(streamId, new RunDriver(state, this));
    }
    await this.removeLeftovers();
    // In the background: each volume is checked against the runs driven at its turn, and
    // the runs to recover need not wait for a slow daemon.
    void this.sweepWorkspaces();
    this.sweepTimer = setInterval(() => void this.sweepWorkspaces(), WORKSPACE_SWEEP_INTERVAL_MS).unref();
    await this.deps.secrets.deleteEnded(TERMINAL_RUN_STATUSES).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'could not delete the secrets of ended runs; retried at the next start');
    });
    for (const driver of this.drivers.values()) driver.kick();
    this.admitAll();
    this.unsubscribe = this.deps.store.onAppended(() => this.wake?.());
    this.following = this.follow();
    this.deps.logger.info({ runs: this.drivers.size }, 'engine started');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    this.unsubscribe?.();
    this.wake?.();
    await this.following;
    this.following = undefined;
    // A sweep judges volumes by the drivers: it must not see them cleared.
    await this.sweeping;
    // Containers keep running: the next start adopts them.
    const drivers = [...this.drivers.values()];
    await Promise.all(drivers.map((driver) => driver.close()));
    this.drivers.clear();
    // A run that ended just before, its last container removed meanwhile, was not released yet.
    await Promise.all(drivers.filter((driver) => isTerminal(driver.state.status)).map((driver) => this.workspaces.release(driver.state.id)));
  }

  get activeRuns(): number {
    return this.drivers.size;
  }

  /** Called by a driver whose run reached a final status. */
  finished(driver: RunDriver): void {
    if (driver.activeExecutions > 0) return;
    if (this.drivers.get(driver.state.streamId) !== driver) return;
    this.drivers.delete(driver.state.streamId);
    void driver.close();
    this.forgetSecrets(driver.state.id);
    // Its containers are gone by now (kept failed ones excepted), so the volume is free.
    void this.workspaces.release(driver.state.id);
    this.admit(driver.state.workflowId);
  }

  /** Removes the workspaces of runs that ended while their removal failed or the engine was down. */
  private sweepWorkspaces(): Promise<void> {
    this.sweeping = this.sweeping.then(async () => {
      if (this.stopping) return;
      // Asked per volume at its turn: a run admitted meanwhile keeps its volume.
      await this.workspaces.sweep((runId) => this.stopping || this.isDriven(runId));
    });
    return this.sweeping;
  }

  private isDriven(runId: string): boolean {
    for (const driver of this.drivers.values()) if (driver.state.id === runId) return true;
    return false;
  }

  /** A run that ended needs its secrets no more: they are deleted (and the next start deletes any left by a crash). */
  private forgetSecrets(runId: string): void {
    this.deps.masks.forget(runId);
    void this.deps.secrets.delete(runId).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, run: runId }, 'could not delete the secrets of an ended run; deleted at the next start');
    });
  }

  private async follow(): Promise<void> {
    while (!this.stopping) {
      try {
        const batch = await this.feed.next(this.position);
        for (const event of [...batch.late, ...batch.events]) this.route(event);
        this.position = batch.checkpoint;
        if (batch.events.length > 0 || batch.late.length > 0) continue;
      } catch (error) {
        this.deps.logger.error({ err: error }, 'engine could not read the event log; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.feed.waitingForHole ? 20 : 500);
        this.wake = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  }

  private route(event: RecordedEvent): void {
    if (!event.streamId.startsWith('run-')) return;
    const driver = this.drivers.get(event.streamId);
    if (driver) {
      driver.receive(event);
      return;
    }
    if (event.type !== 'RunRequested' || event.streamVersion !== 1) return;
    const state = evolve(undefined, recordedRunEvent(event));
    this.drivers.set(event.streamId, new RunDriver(state, this));
    this.admit(state.workflowId);
  }

  private admitAll(): void {
    for (const workflowId of new Set([...this.drivers.values()].map((driver) => driver.state.workflowId))) this.admit(workflowId);
  }

  /** Starts queued runs of a workflow, oldest first, while its concurrency allows. */
  private admit(workflowId: string): void {
    const runs = [...this.drivers.values()].filter((driver) => driver.state.workflowId === workflowId);
    const waiting = runs.filter((driver) => driver.state.status === 'queued' && !driver.admitted && !driver.state.stopRequested);
    let running = runs.filter((driver) => driver.state.status === 'running' || driver.admitted).length;
    for (const driver of waiting.sort((a, b) => a.state.number - b.state.number)) {
      const limit = driver.state.snapshot.spec.concurrency ?? this.deps.settings.defaultConcurrency;
      if (running >= limit) break;
      running += 1;
      driver.admit();
    }
  }

  /** Containers of this engine whose attempt is finished (a crash before their removal). */
  private async removeLeftovers(): Promise<void> {
    let containers;
    try {
      containers = await this.deps.runtime.list({ [CONTAINER_LABELS.managed]: this.deps.engineId });
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not list task containers at start');
      return;
    }
    for (const container of containers) {
      const runId = container.labels[CONTAINER_LABELS.run];
      const task = container.labels[CONTAINER_LABELS.task];
      const attempt = Number(container.labels[CONTAINER_LABELS.attempt]);
      const driver = [...this.drivers.values()].find((candidate) => candidate.state.id === runId);
      const [stage, action] = (task ?? '').split('.');
      const current = driver ? findTask(driver.state, stage, action) : undefined;
      const live = current?.attempts.find((candidate) => candidate.attempt === attempt);
      if (live && (live.status === 'queued' || live.status === 'running')) continue;
      if (this.deps.settings.keepFailedContainers && container.state === 'exited' && container.exitCode !== 0) continue;
      await this.deps.runtime.remove(container.id).catch(() => undefined);
    }
  }
}

