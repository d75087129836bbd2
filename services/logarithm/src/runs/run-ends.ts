import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { BusSubscription } from '@co/bus';
import { Database, sqlTime, subscribeToEvents, type EventEnvelope } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { parseProject } from '../storage/log-line';

/** A run that has ended, as pilotage reported it. */
export interface EndedRun {
  run: string;
  org: string;
  project: string;
  endedAt: Date;
  /** `succeeded`, `failed`, `stopped` or `timed_out`. */
  outcome: string;
}

/** Who a run belongs to, from pilotage's RunRequested. */
export interface RunOwner {
  org: string;
  project: string;
  workflowId?: string;
}

export const RUNS_CONSUMER = 'logarithm-runs';

/** pilotage's events that end a run (services/pilotage/src/runs/run.events.ts), and the outcome each means. */
const RUN_ENDINGS: Record<string, string> = {
  RunSucceeded: 'succeeded',
  RunFailed: 'failed',
  RunStopped: 'stopped',
  RunTimedOut: 'timed_out',
};

/** pilotage's run ids (and what RegisterRunMasks accepts as one). */
export const RUN_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** How often watched runs are looked up: their end may have been consumed by another replica. */
const WATCH_POLL_MS = 1000;

/** Ends kept in memory, so that a stream opened on a just-ended run needs no query. */
const REMEMBERED_ENDS = 10_000;
/** Owners kept in memory: every push of a run's lines asks for its owner. */
const REMEMBERED_OWNERS = 10_000;

interface RunRow {
  run_id: string | null;
  org: string;
  project: string;
  workflow_id: string | null;
  ended_at: Date | string | null;
  outcome: string | null;
}

/**
 * Follows pilotage's runs from its events (`<prefix>.pilotage.run.>`, a durable consumer
 * that replicas share) into `logarithm_runs`: who owns each run and when it ended. Live
 * tails close on a run's end; masks are dropped some hours after it. Events may come
 * twice or out of order: an end that arrives before the run's request leaves a row
 * that the request completes, and a second end changes nothing.
 */
@Injectable()
export class RunEnds implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: BusSubscription;
  private readonly listeners = new Set<(ended: EndedRun) => void>();
  private readonly watched = new Map<string, number>();
  private readonly remembered = new Map<string, EndedRun>();
  /** A run's owner never changes once its request is recorded. */
  private readonly owners = new Map<string, RunOwner>();
  private poll?: NodeJS.Timeout;
  private polling = false;
  private stopped = false;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly db: Database,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, config } = this.runtime;
    // pilotage may not have started yet: its stream must exist to be consumed.
    await bus.ensureStream('pilotage');
    this.subscription = await subscribeToEvents(bus, this.db, {
      durable: RUNS_CONSUMER,
      subject: `${config.bus.subjectPrefix}.pilotage.run.>`,
      handleBatch: (events, manager) => this.apply(events, manager),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    await this.subscription?.stop();
  }

  /** The run's organization and project, or null when pilotage's request for it has not arrived. */
  async owner(run: string): Promise<RunOwner | null> {
    const known = this.owners.get(run);
    if (known) return { ...known };
    if (!RUN_ID.test(run)) return null;
    const [row] = await this.db.query<RunRow[]>("SELECT * FROM logarithm_runs WHERE run_id = ? AND org <> ''", [run]);
    if (!row) return null;
    const owner: RunOwner = { org: row.org, project: row.project, ...(row.workflow_id ? { workflowId: row.workflow_id } : {}) };
    this.owners.set(run, owner);
    if (this.owners.size > REMEMBERED_OWNERS) this.owners.delete(this.owners.keys().next().value!);
    return { ...owner };
  }

  async ended(run: string): Promise<EndedRun | null> {
    const known = this.remembered.get(run);
    if (known) return known;
    if (!RUN_ID.test(run)) return null;
    const [row] = await this.db.query<RunRow[]>('SELECT * FROM logarithm_runs WHERE run_id = ? AND ended_at IS NOT NULL', [run]);
    if (!row) return null;
    this.announce(endedOf(row));
    return this.remembered.get(run) ?? null;
  }

  /** Called once per run end this process learns of (from the bus, or by looking up a watched run). */
  onEnded(listener: (ended: EndedRun) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Keeps looking `run` up until it ends (or the returned function is called): its end
   * may be consumed by another replica, whose listeners are not this process's.
   */
  watch(run: string): () => void {
    this.watched.set(run, (this.watched.get(run) ?? 0) + 1);
    if (!this.poll && !this.stopped) {
      this.poll = setInterval(() => void this.lookUpWatched(), WATCH_POLL_MS);
      this.poll.unref();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const count = (this.watched.get(run) ?? 1) - 1;
      if (count > 0) this.watched.set(run, count);
      else this.watched.delete(run);
      if (this.watched.size === 0) {
        clearInterval(this.poll);
        this.poll = undefined;
      }
    };
  }

  async apply(events: EventEnvelope[], manager: EntityManager): Promise<void> {
    const ends: EndedRun[] = [];
    for (const event of events) {
      if (event.type === 'RunRequested') await this.applyRequested(event, manager, ends);
      else if (RUN_ENDINGS[event.type]) await this.applyEnded(event, manager, ends);
    }
    // Listeners act on the fact the event states; the transaction recording it commits right after.
    if (ends.length > 0) setImmediate(() => ends.forEach((ended) => this.announce(ended)));
  }

  private async applyRequested(event: EventEnvelope, manager: EntityManager, ends: EndedRun[]): Promise<void> {
    const data = event.data as Record<string, unknown>;
    const runId = data.runId;
    const place = parseProject(data.project);
    if (typeof runId !== 'string' || !RUN_ID.test(runId) || !place) {
      this.runtime.logger.warn({ eventId: event.id, streamId: event.streamId }, 'run request ignored: no valid run id or project');
      return;
    }
    const { org, project } = place;
    const workflowId = typeof data.workflowId === 'string' ? data.workflowId.slice(0, 64) : null;
    const workflowName = typeof data.workflowName === 'string' ? data.workflowName.slice(0, 191) : null;
    const requestedAt = sqlTime(manager, new Date(event.occurredAt));
    const [row] = await manager.query<RunRow[]>('SELECT * FROM logarithm_runs WHERE stream_id = ?', [event.streamId]);
    if (!row) {
      await manager.query(
        'INSERT INTO logarithm_runs (stream_id, run_id, org, project, workflow_id, workflow_name, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [event.streamId, runId, org, project, workflowId, workflowName, requestedAt],
      );
      return;
    }
    if (row.run_id) return;
    // The run's end came first: the request completes the row, and the end can now be told.
    await manager.query(
      'UPDATE logarithm_runs SET run_id = ?, org = ?, project = ?, workflow_id = ?, workflow_name = ?, requested_at = ? WHERE stream_id = ?',
      [runId, org, project, workflowId, workflowName, requestedAt, event.streamId],
    );
    if (row.ended_at) ends.push(endedOf({ ...row, run_id: runId, org, project }));
  }

  private async applyEnded(event: EventEnvelope, manager: EntityManager, ends: EndedRun[]): Promise<void> {
    const data = event.data as Record<string, unknown>;
    const at = typeof data.at === 'string' && !Number.isNaN(Date.parse(data.at)) ? new Date(data.at) : new Date(event.occurredAt);
    const outcome = RUN_ENDINGS[event.type];
    const [row] = await manager.query<RunRow[]>('SELECT * FROM logarithm_runs WHERE stream_id = ?', [event.streamId]);
    if (!row) {
      await manager.query("INSERT INTO logarithm_runs (stream_id, run_id, org, project, ended_at, outcome) VALUES (?, NULL, '', '', ?, ?)", [
        event.streamId,
        sqlTime(manager, at),
        outcome,
      ]);
      return;
    }
    if (row.ended_at) return;
    await manager.query('UPDATE logarithm_runs SET ended_at = ?, outcome = ? WHERE stream_id = ?', [sqlTime(manager, at), outcome, event.streamId]);
    if (row.run_id) ends.push(endedOf({ ...row, ended_at: at, outcome }));
  }

  private async lookUpWatched(): Promise<void> {
    if (this.polling || this.stopped) return;
    const runs = [...this.watched.keys()].filter((run) => !this.remembered.has(run) && RUN_ID.test(run)).slice(0, 500);
    if (runs.length === 0) return;
    this.polling = true;
    try {
      const rows = await this.db.query<RunRow[]>(
        `SELECT * FROM logarithm_runs WHERE ended_at IS NOT NULL AND run_id IN (${runs.map(() => '?').join(', ')})`,
        runs,
      );
      for (const row of rows) this.announce(endedOf(row));
    } catch (error) {
      this.runtime.logger.warn({ err: error }, 'looking up the end of watched runs failed; retrying');
    } finally {
      this.polling = false;
    }
  }

  private announce(ended: EndedRun): void {
    if (this.remembered.has(ended.run)) return;
    this.remember(ended);
    for (const listener of this.listeners) {
      try {
        listener(ended);
      } catch (error) {
        this.runtime.logger.warn({ err: error, run: ended.run }, 'a run end listener failed');
      }
    }
  }

  private remember(ended: EndedRun): EndedRun {
    this.remembered.set(ended.run, ended);
    if (this.remembered.size > REMEMBERED_ENDS) this.remembered.delete(this.remembered.keys().next().value!);
    return ended;
  }
}

function endedOf(row: RunRow): EndedRun {
  return {
    run: row.run_id!,
    org: row.org,
    project: row.project,
    endedAt: row.ended_at instanceof Date ? row.ended_at : new Date(String(row.ended_at)),
    outcome: row.outcome ?? 'unknown',
  };
}
