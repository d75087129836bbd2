import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, Database, EventStore, ProjectionRunner, type RecordedEvent } from '@co/eventstore';
import { ENGINE_SETTINGS } from '../engine/engine.tokens';
import type { EngineSettings } from '../engine/engine-settings';
import { pinComponents } from './component-pinning';
import { NucleusClient } from './nucleus.client';
import type { ValidationIssue, WorkflowDocument } from './workflow-definition';
import {
  evolveWorkflow,
  workflowNameStreamId,
  workflowStreamId,
  type WorkflowEvent,
  type WorkflowState,
} from './workflow.events';
import { readWorkflowDocument, type DocumentFormat } from './workflow-input';

export const WORKFLOW_LIST_LIMITS = { defaultPageSize: 20, maxPageSize: 100 } as const;

export interface WorkflowView {
  id: string;
  name: string;
  project: string;
  revision: number;
  active: boolean;
  createdBy?: string;
  copiedFrom?: string;
  createdAt: string;
  updatedAt: string;
  definition: WorkflowDocument;
  /** Only in the answer to a save: what is worth knowing but did not stop it (a deprecated component version). */
  warnings?: ValidationIssue[];
}

export interface RevisionView {
  revision: number;
  createdAt: string;
  createdBy?: string;
  definition: WorkflowDocument;
}

export function toWorkflowView(state: WorkflowState): WorkflowView {
  return {
    id: state.id,
    name: state.name,
    project: state.project,
    revision: state.revision,
    active: state.active,
    createdBy: state.createdBy,
    copiedFrom: state.copiedFrom,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    definition: state.definition,
  };
}

interface WorkflowRow {
  id: string;
  project: string;
  name: string;
  revision: number | string;
  active: number | string;
  definition: string;
  created_by: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

export interface CreateOptions {
  /** User id of the caller, recorded as the creator. */
  actor?: string;
  copiedFrom?: string;
  admit?: (definition: WorkflowDocument) => Promise<void>;
  /** The caller's `authorization`, handed to nucleus to resolve component actions as the caller. */
  authorization?: string;
}

/** A name claim whose workflow has not appeared after this long is taken to be left by a crash. */
const ABANDONED_CLAIM_MS = 30_000;

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Commands and queries of workflows. Commands go to the event log; queries read the projection. */
@Injectable()
export class WorkflowsService implements OnModuleDestroy {
  private nucleus?: NucleusClient;

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projections: ProjectionRunner,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
  ) {}

  onModuleDestroy(): void {
    this.nucleus?.close();
  }

  /** Resolves and pins the component actions (nucleus is asked only when there are some). */
  private pin(definition: WorkflowDocument, authorization: string | undefined) {
    return pinComponents(definition, { validateWorkflow: (request, auth) => (this.nucleus ??= new NucleusClient(this.settings.nucleusGrpcAddress)).validateWorkflow(request, auth) }, authorization);
  }

  /**
   * `admit` sees the valid document before anything is recorded and throws to refuse it
   * (the caller may not create workflows in its project, say).
   */
  async create(body: unknown, format: DocumentFormat, options: CreateOptions = {}): Promise<WorkflowView> {
    const { actor, copiedFrom } = options;
    const valid = readWorkflowDocument(body, format, { fillDefaultStages: true });
    await options.admit?.(valid);
    const { workflow: definition, warnings } = await this.pin(valid, options.authorization);
    const id = randomUUID();
    const { project, name } = definition.metadata;
    await this.claimName(project, name, id);
    let recorded: RecordedEvent[];
    try {
      recorded = await this.store.append(
        workflowStreamId(id),
        'no-stream',
        [{ type: 'WorkflowCreated', data: { workflowId: id, project, name, definition, copiedFrom, createdBy: actor } }],
        { actor, tenant: tenantOf(project) },
      );
    } catch (error) {
      // The workflow was not recorded: give the name back rather than leave it taken by nothing.
      if ((await this.store.streamVersion(workflowStreamId(id)).catch(() => 1)) === 0) {
        await this.releaseName(project, name, id, actor).catch(() => undefined);
      }
      throw error;
    }
    await this.projections.settle(recorded[recorded.length - 1].position);
    return withWarnings(toWorkflowView(this.fold(recorded)), warnings);
  }

  /** `admit` sees the current state and the valid new document before the revision is recorded. */
  async update(
    id: string,
    body: unknown,
    format: DocumentFormat,
    actor?: string,
    admit?: (current: WorkflowState, next: WorkflowDocument) => Promise<void>,
    authorization?: string,
  ): Promise<WorkflowView> {
    const current = await this.load(id);
    const definition = readWorkflowDocument(body, format, { fillDefaultStages: false });
    if (definition.metadata.project !== current.project || definition.metadata.name !== current.name) {
      throw new InvalidInputError(
        'WORKFLOW.IDENTITY_CHANGED',
        `metadata.name and metadata.project cannot change on update (this workflow is ${current.project}/${current.name}); copy it to make a workflow with another name.`,
      );
    }
    await admit?.(current, definition);
    const pinned = await this.pin(definition, authorization);
    const saved = await this.append(current, [{ type: 'WorkflowRevised', data: { revision: current.revision + 1, definition: pinned.workflow, revisedBy: actor } }], actor);
    return withWarnings(saved, pinned.warnings);
  }

  async copy(id: string, target: { name: string; project?: string }, options: Omit<CreateOptions, 'copiedFrom'> = {}): Promise<WorkflowView> {
    const source = await this.load(id);
    const definition: WorkflowDocument = {
      ...source.definition,
      metadata: { ...source.definition.metadata, name: target.name, project: target.project ?? source.project },
    };
    return this.create(definition, 'object', { ...options, copiedFrom: source.id });
  }

  async setActive(id: string, active: boolean, actor?: string): Promise<WorkflowView> {
    const current = await this.load(id);
    if (current.active === active) return toWorkflowView(current);
    return this.append(current, [{ type: active ? 'WorkflowActivated' : 'WorkflowDeactivated', data: {} }], actor);
  }

  /** Deletes the workflow (its runs' history stays in the log) and frees its name. */
  async delete(id: string, stoppedRuns: string[], actor?: string): Promise<void> {
    const current = await this.load(id);
    await this.append(current, [{ type: 'WorkflowDeleted', data: stoppedRuns.length ? { stoppedRuns } : {} }], actor);
    await this.releaseName(current.project, current.name, id, actor);
  }

  /** The workflow as recorded in its own stream (not the projection): used by commands. */
  async load(id: string): Promise<WorkflowState> {
    if (!ID.test(id)) throw workflowNotFound(id);
    const events = await this.store.readStream(workflowStreamId(id));
    if (events.length === 0) throw workflowNotFound(id);
    const state = this.fold(events);
    if (state.deleted) throw workflowNotFound(id);
    return state;
  }

  async get(id: string): Promise<WorkflowView> {
    return toWorkflowView(await this.load(id));
  }

  /** `visible` is an SQL condition on the `project` and `created_by` columns keeping the rows the caller may see. */
  async list(filter: { project?: string; name?: string; page?: number; pageSize?: number }, visible?: { sql: string; parameters: unknown[] }) {
    const pageSize = Math.min(Math.max(Math.floor(filter.pageSize || WORKFLOW_LIST_LIMITS.defaultPageSize), 1), WORKFLOW_LIST_LIMITS.maxPageSize);
    const page = Math.max(Math.floor(filter.page || 1), 1);
    const conditions: string[] = visible ? [visible.sql] : [];
    const parameters: unknown[] = visible ? [...visible.parameters] : [];
    if (filter.project) {
      conditions.push('project = ?');
      parameters.push(filter.project);
    }
    if (filter.name) {
      conditions.push('name LIKE ?');
      parameters.push(`%${filter.name.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const [count] = await this.db.query<{ total: number | string }[]>(`SELECT COUNT(*) AS total FROM pilotage_workflows ${where}`, parameters);
    const total = Number(count.total);
    const offset = (page - 1) * pageSize;
    // A page past the end is empty; one so far past that the offset is no exact integer is not even asked for.
    const rows =
      offset < total
        ? await this.db.query<WorkflowRow[]>(`SELECT * FROM pilotage_workflows ${where} ORDER BY project, name LIMIT ? OFFSET ?`, [
            ...parameters,
            pageSize,
            offset,
          ])
        : [];
    return {
      items: rows.map((row) => ({
        id: row.id,
        name: row.name,
        project: row.project,
        revision: Number(row.revision),
        active: Number(row.active) === 1,
        createdBy: row.created_by ?? undefined,
        createdAt: new Date(row.created_at).toISOString(),
        updatedAt: new Date(row.updated_at).toISOString(),
      })),
      page,
      pageSize,
      total,
    };
  }

  async revisions(id: string): Promise<RevisionView[]> {
    if (!ID.test(id)) throw workflowNotFound(id);
    const events = await this.store.readStream(workflowStreamId(id));
    const state = events.length ? this.fold(events) : undefined;
    if (!state || state.deleted) throw workflowNotFound(id);
    return events
      .filter((event) => event.type === 'WorkflowCreated' || event.type === 'WorkflowRevised')
      .map((event) => {
        const data = event.data as { revision?: number; definition: WorkflowDocument; createdBy?: string; revisedBy?: string };
        return {
          revision: data.revision ?? 1,
          createdAt: event.occurredAt.toISOString(),
          createdBy: data.createdBy ?? data.revisedBy,
          definition: data.definition,
        };
      });
  }

  private async append(current: WorkflowState, events: WorkflowEvent[], actor?: string): Promise<WorkflowView> {
    try {
      const recorded = await this.store.append<WorkflowEvent['data']>(workflowStreamId(current.id), current.version, events, {
        actor,
        tenant: tenantOf(current.project),
      });
      await this.projections.settle(recorded[recorded.length - 1].position);
      let state = current;
      for (const event of recorded) state = evolveWorkflow(state, event as RecordedEvent & WorkflowEvent);
      return toWorkflowView(state);
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) {
        throw new ConflictError('WORKFLOW.CHANGED', 'The workflow changed while this request was handled; load it again and retry.');
      }
      throw error;
    }
  }

  /**
   * Claims `<project>/<name>` through the name's own stream. A claim whose workflow
   * never got created (a crash between the two appends) is taken over.
   */
  private async claimName(project: string, name: string, workflowId: string): Promise<void> {
    const streamId = workflowNameStreamId(project, name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const events = await this.store.readStream(streamId);
      const last = events[events.length - 1];
      if (last?.type === 'WorkflowNameClaimed') {
        const holder = (last.data as { workflowId: string }).workflowId;
        if (!(await this.claimIsStale(holder, last.occurredAt))) {
          throw new ConflictError('WORKFLOW.NAME_TAKEN', `A workflow named ${name} already exists in project ${project}; choose another name or update that one.`, {
            workflowId: holder,
          });
        }
      }
      try {
        await this.store.append(streamId, events.length === 0 ? 'no-stream' : events.length, [
          { type: 'WorkflowNameClaimed', data: { workflowId, project, name } },
        ]);
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
    throw new ConflictError('WORKFLOW.NAME_TAKEN', `A workflow named ${name} is being created in project ${project} right now; choose another name.`);
  }

  /**
   * A claim no longer holds when its workflow was deleted (and the release got lost), or when
   * its workflow never got created and the claim is old enough to be abandoned.
   */
  private async claimIsStale(holder: string, claimedAt: Date): Promise<boolean> {
    const events = await this.store.readStream(workflowStreamId(holder));
    if (events.length === 0) return Date.now() - claimedAt.getTime() > ABANDONED_CLAIM_MS;
    return this.fold(events).deleted;
  }

  /**
   * Frees `<project>/<name>` if `workflowId` still holds it. A claim someone else made in the
   * meantime (after a delete, say) is left alone.
   */
  private async releaseName(project: string, name: string, workflowId: string, actor?: string): Promise<void> {
    const streamId = workflowNameStreamId(project, name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const events = await this.store.readStream(streamId);
      const last = events[events.length - 1];
      if (last?.type !== 'WorkflowNameClaimed' || (last.data as { workflowId: string }).workflowId !== workflowId) return;
      try {
        await this.store.append(streamId, events.length, [{ type: 'WorkflowNameReleased', data: { workflowId } }], { actor });
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
  }

  private fold(events: RecordedEvent[]): WorkflowState {
    let state: WorkflowState | undefined;
    for (const event of events) state = evolveWorkflow(state, event as RecordedEvent & WorkflowEvent);
    return state!;
  }
}

function withWarnings(view: WorkflowView, warnings: ValidationIssue[]): WorkflowView {
  return warnings.length ? { ...view, warnings } : view;
}

export function tenantOf(project: string): string {
  return project.split('/')[0];
}

export function workflowNotFound(id: string): NotFoundError {
  return new NotFoundError('WORKFLOW.NOT_FOUND', `No workflow with id ${id}; list workflows with GET /api/v1/workflows.`);
}
