import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ConflictError, DomainError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, Database, EventStore, ProjectionRunner } from '@co/eventstore';
import { currentTraceparent } from '@co/telemetry';
import { ENGINE_SETTINGS } from '../engine/engine.tokens';
import { LOGARITHM_URL_DEFAULT, type EngineSettings } from '../engine/engine-settings';
import { QuotaGate } from '../quotas/quota-gate';
import type { ParamValue, WorkflowDocument } from '../workflows/workflow-definition';
import { tenantOf, WorkflowsService } from '../workflows/workflows.service';
import { runStreamId, TERMINAL_RUN_STATUSES, type RunTrigger } from './run.events';
import { evolve, isTerminal, recordedRunEvent, type RunState } from './run-state';
import { checkRunSecrets, RunSecretStore } from './run-secrets';
import { runFromRow } from './runs.projection';

export const RUN_LIST_PAGE_SIZE = 50;
/** Largest value of one run parameter (it is recorded with the run and handed to containers). */
export const RUN_PARAM_MAX_BYTES = 16 * 1024;
/** Concurrent starts of one workflow retry the next number at most this often. */
const NUMBER_ATTEMPTS = 200;

export interface RunSummary {
  id: string;
  workflowId: string;
  number: number;
  status: string;
}

export interface RunView extends RunSummary {
  workflowName: string;
  project: string;
  revision: number;
  trigger: RunTrigger;
  params: Record<string, ParamValue>;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  /** Set once a stop was asked for; the run reaches `stopped` when its containers have. */
  stopRequestedAt?: string;
  traceId?: string;
  /**
   * `events` and `logs` (this API; `{task}` is `<stage>.<action>`); `log`, `logStream` and
   * `logDownload`: the whole run's log in logarithm (query, live tail, gzip download).
   */
  links: { events: string; logs: string; log: string; logStream: string; logDownload: string };
  stages: {
    name: string;
    status: string;
    startedAt?: string;
    finishedAt?: string;
    reason?: string;
    actions: {
      name: string;
      status: string;
      attempts: number;
      exitCode?: number;
      outputs: Record<string, string>;
      startedAt?: string;
      finishedAt?: string;
      reason?: string;
      /** This task's log through this API. */
      logs: string;
      /** This task's log in logarithm. */
      links: { log: string; logStream: string; logDownload: string };
    }[];
  }[];
}

/** Links to a run's (or one task's) log in logarithm, whose base URL is `logarithm`. */
function logLinks(logarithm: string, runId: string, task?: string) {
  const base = `${logarithm}/api/v1/runs/${runId}${task ? `/tasks/${task}` : ''}/logs`;
  return { log: base, logStream: `${base}/stream`, logDownload: `${base}/download` };
}

/** `logarithm`: logarithm's base URL as users reach it (CO_PILOTAGE_LOGARITHM_PUBLIC_URL). */
export function toRunView(state: RunState, logarithm: string = LOGARITHM_URL_DEFAULT): RunView {
  return {
    id: state.id,
    workflowId: state.workflowId,
    workflowName: state.workflowName,
    project: state.project,
    revision: state.revision,
    number: state.number,
    status: state.status,
    trigger: state.trigger,
    params: state.params,
    requestedAt: state.requestedAt,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    reason: state.reason,
    stopRequestedAt: state.stopRequested?.at,
    traceId: state.traceId,
    links: { events: `/api/v1/runs/${state.id}/events`, logs: `/api/v1/runs/${state.id}/tasks/{task}/logs`, ...logLinks(logarithm, state.id) },
    stages: state.stages.map((stage) => ({
      name: stage.name,
      status: stage.status,
      startedAt: stage.startedAt,
      finishedAt: stage.finishedAt,
      reason: stage.reason,
      actions: stage.actions.map((task) => ({
        name: task.action,
        status: task.status,
        attempts: task.attempts.length,
        exitCode: task.exitCode,
        outputs: task.outputs,
        startedAt: task.startedAt,
        finishedAt: task.finishedAt,
        reason: task.reason,
        logs: `/api/v1/runs/${state.id}/tasks/${stage.name}.${task.action}/logs`,
        links: logLinks(logarithm, state.id, `${stage.name}.${task.action}`),
      })),
    })),
  };
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

@Injectable()
export class RunsService {
  private readonly lastNumbers = new Map<string, number>();

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projections: ProjectionRunner,
    private readonly workflows: WorkflowsService,
    private readonly quotas: QuotaGate,
    private readonly secrets: RunSecretStore,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
  ) {}

  /** `secrets`: values of the secrets the workflow declares (never recorded; see RunSecretStore). */
  async start(workflowId: string, params: Record<string, unknown> | undefined, actor?: string, secrets?: Record<string, unknown>): Promise<RunSummary> {
    const workflow = await this.activeWorkflow(workflowId);
    const values = checkRunSecrets(workflow.definition.spec.secrets, secrets);
    await this.quotas.checkRunStart(workflow.project);
    return this.request(workflow.id, workflow.revision, workflow.definition, this.mergeParams(workflow.definition, params), { type: 'manual', by: actor }, actor, values);
  }

  /**
   * A new run of exactly what the given run ran: its snapshot and parameters. Secrets are
   * not kept past a run's end, so a rerun is given them again, checked against the
   * snapshot's declarations.
   */
  async rerun(runId: string, actor?: string, secrets?: Record<string, unknown>): Promise<RunSummary> {
    const previous = await this.load(runId);
    await this.activeWorkflow(previous.workflowId);
    const values = checkRunSecrets(previous.snapshot.spec.secrets, secrets);
    await this.quotas.checkRunStart(previous.project);
    return this.request(previous.workflowId, previous.revision, previous.snapshot, previous.params, { type: 'rerun', by: actor, rerunOf: previous.id }, actor, values);
  }

  private async activeWorkflow(workflowId: string) {
    const workflow = await this.workflows.load(workflowId);
    if (!workflow.active) {
      throw new DomainError(
        'WORKFLOW.INACTIVE',
        `Workflow ${workflow.project}/${workflow.name} is deactivated; activate it before running it.`,
        409,
        GrpcStatus.FAILED_PRECONDITION,
      );
    }
    return workflow;
  }

  /** `actor` is the caller's user id, `actorName` what the run's reason calls them. */
  async stop(runId: string, actor?: string, actorName?: string): Promise<RunView> {
    const state = await this.load(runId);
    if (!isTerminal(state.status) && !state.stopRequested) {
      const recorded = await this.store.append(
        state.streamId,
        'any',
        [{ type: 'RunStopRequested', data: { reason: `stopped by ${actorName ?? 'a user'}`, by: actor, at: new Date().toISOString() } }],
        { actor, tenant: tenantOf(state.project), correlationId: state.id },
      );
      await this.projections.settle(recorded[0].position);
    }
    return toRunView(await this.load(runId), this.settings.logarithmPublicUrl);
  }

  async get(runId: string): Promise<RunView> {
    return toRunView(await this.load(runId), this.settings.logarithmPublicUrl);
  }

  async list(workflowId: string, page = 1) {
    await this.workflows.load(workflowId);
    const offset = (Math.max(page, 1) - 1) * RUN_LIST_PAGE_SIZE;
    const rows = await this.db.query<{ state: string }[]>(
      'SELECT state FROM pilotage_runs WHERE workflow_id = ? ORDER BY number DESC LIMIT ? OFFSET ?',
      [workflowId, RUN_LIST_PAGE_SIZE + 1, offset],
    );
    const items = rows.slice(0, RUN_LIST_PAGE_SIZE).map((row) => {
      const view = toRunView(runFromRow(row), this.settings.logarithmPublicUrl);
      return { id: view.id, number: view.number, status: view.status, trigger: view.trigger, requestedAt: view.requestedAt, startedAt: view.startedAt, finishedAt: view.finishedAt, reason: view.reason };
    });
    return { items, page: Math.max(page, 1), pageSize: RUN_LIST_PAGE_SIZE, hasMore: rows.length > RUN_LIST_PAGE_SIZE };
  }

  async events(runId: string) {
    const state = await this.load(runId);
    const events = await this.store.readStream(state.streamId);
    return events.map((event) => ({
      id: event.id,
      version: event.streamVersion,
      type: event.type,
      occurredAt: event.occurredAt.toISOString(),
      actor: event.metadata.actor,
      data: event.type === 'RunRequested' ? { ...(event.data as object), snapshot: undefined } : event.data,
    }));
  }

  /** Ids of the workflow's runs that are not finished. */
  async activeRuns(workflowId: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }[]>(
      `SELECT id FROM pilotage_runs WHERE workflow_id = ? AND status NOT IN (${TERMINAL_RUN_STATUSES.map(() => '?').join(', ')})`,
      [workflowId, ...TERMINAL_RUN_STATUSES],
    );
    return rows.map((row) => row.id);
  }

  /** The run as the read model has it (callers wait for it after their own appends). */
  async load(runId: string): Promise<RunState> {
    if (!ID.test(runId)) throw runNotFound(runId);
    const rows = await this.db.query<{ state: string; snapshot: string }[]>('SELECT state, snapshot FROM pilotage_runs WHERE id = ?', [runId]);
    if (rows.length === 0) throw runNotFound(runId);
    return runFromRow(rows[0]);
  }

  /** The run as its own stream has it right now (for decisions that cannot wait for the read model). */
  async loadRecorded(runId: string): Promise<RunState> {
    const { streamId } = await this.load(runId);
    let state: RunState | undefined;
    for (const event of await this.store.readStream(streamId)) {
      state = evolve(state, recordedRunEvent(event));
    }
    return state!;
  }

  private mergeParams(definition: WorkflowDocument, given: Record<string, unknown> | undefined): Record<string, ParamValue> {
    const declared = definition.spec.params ?? {};
    const params: Record<string, ParamValue> = { ...declared };
    const problems: string[] = [];
    for (const [name, value] of Object.entries(given ?? {})) {
      if (!(name in declared)) problems.push(`params.${name} is not declared by the workflow (declared: ${Object.keys(declared).join(', ') || 'none'})`);
      else if (!['string', 'number', 'boolean'].includes(typeof value)) problems.push(`params.${name} must be a string, number or boolean`);
      else if (Buffer.byteLength(String(value)) > RUN_PARAM_MAX_BYTES) problems.push(`params.${name} is longer than ${RUN_PARAM_MAX_BYTES} bytes`);
      else params[name] = value as ParamValue;
    }
    if (problems.length) throw new InvalidInputError('RUN.INVALID_PARAMS', `${problems.join('; ')}.`, { problems });
    return params;
  }

  /**
   * The run's stream is named after its number (`run-<workflow>.<n>`), so claiming a
   * number is creating that stream: of two concurrent starts that try the same number
   * one wins and the other tries the next. Numbers are therefore strictly increasing
   * with no duplicates and no gaps.
   */
  private async request(
    workflowId: string,
    revision: number,
    snapshot: WorkflowDocument,
    params: Record<string, ParamValue>,
    trigger: RunTrigger,
    actor?: string,
    secrets: Record<string, string> = {},
  ): Promise<RunSummary> {
    let number = Math.max(this.lastNumbers.get(workflowId) ?? 0, await this.highestNumber(workflowId)) + 1;
    const runId = randomUUID();
    // Stored before the run is: the engine may start it as soon as it is recorded.
    await this.secrets.save(runId, secrets);
    try {
      return await this.requestNumbered(workflowId, revision, snapshot, params, trigger, actor, runId, number);
    } catch (error) {
      await this.secrets.delete(runId).catch(() => undefined);
      throw error;
    }
  }

  private async requestNumbered(
    workflowId: string,
    revision: number,
    snapshot: WorkflowDocument,
    params: Record<string, ParamValue>,
    trigger: RunTrigger,
    actor: string | undefined,
    runId: string,
    number: number,
  ): Promise<RunSummary> {
    const traceparent = currentTraceparent();
    const traceId = traceparent?.split('-')[1];
    for (let attempt = 0; attempt < NUMBER_ATTEMPTS; attempt++, number++) {
      try {
        const recorded = await this.store.append(
          runStreamId(workflowId, number),
          'no-stream',
          [
            {
              type: 'RunRequested',
              data: {
                runId,
                workflowId,
                workflowName: snapshot.metadata.name,
                project: snapshot.metadata.project,
                revision,
                number,
                snapshot,
                params,
                trigger,
                ...(traceId ? { traceId, traceparent } : {}),
              },
            },
          ],
          { actor, tenant: tenantOf(snapshot.metadata.project), correlationId: runId },
        );
        this.lastNumbers.set(workflowId, Math.max(this.lastNumbers.get(workflowId) ?? 0, number));
        await this.projections.settle(recorded[0].position);
        return { id: runId, workflowId, number, status: 'queued' };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
    throw new ConflictError('RUN.BUSY', 'Too many runs of this workflow are being started at once; retry in a moment.');
  }

  private async highestNumber(workflowId: string): Promise<number> {
    const [row] = await this.db.query<{ highest: number | string | null }[]>(
      'SELECT MAX(number) AS highest FROM pilotage_runs WHERE workflow_id = ?',
      [workflowId],
    );
    return Number(row?.highest ?? 0);
  }
}

export function runNotFound(id: string): NotFoundError {
  return new NotFoundError('RUN.NOT_FOUND', `No run with id ${id}.`);
}
