import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, type RecordedEvent } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import {
  workspaceStream,
  type WorkspaceCreated,
  type WorkspaceDeleted,
  type WorkspaceDescriptionChanged,
  type WorkspaceVisibility,
  type WorkspaceVisibilityChanged,
} from './workspace.events';

export interface Workspace {
  name: string;
  org: string;
  project: string;
  visibility: WorkspaceVisibility;
  description: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

interface WorkspaceRow {
  name: string;
  org: string;
  project: string;
  visibility: string;
  description: string;
  created_by: string;
  created_at: Date | string;
  updated_at: Date | string;
}

/** Whether a workspace still holds something (repositories, charts, artifacts): it cannot be deleted then. */
export interface WorkspaceContents {
  describe(workspace: string): Promise<string | undefined>;
  /**
   * Forgets what an empty workspace still records (repositories without versions, their
   * blob links, uploads in progress), so that nothing of it passes to a workspace that
   * takes the name later. The bytes go at the next garbage collection.
   */
  release(workspace: string): Promise<void>;
}

export const WORKSPACE_CONTENTS = Symbol('WORKSPACE_CONTENTS');

/** Names that look like API versions are kept free for the APIs' paths. */
const RESERVED_NAME = /^v[0-9]+$/;

/** The most workspaces one organization may hold. */
export const MAX_WORKSPACES_PER_ORG = 1000;

export function workspaceNotFound(name: string): NotFoundError {
  return new NotFoundError('WORKSPACE.NOT_FOUND', `Workspace ${JSON.stringify(name)} does not exist, or you may not see it.`);
}

/**
 * Workspaces (the manual's 工作空间): where images, charts and binary artifacts of an
 * organization's project are kept, public (anyone pulls) or private. Event-sourced in
 * `workspace-<name>`: a name is one stream, so two creations of one name cannot both
 * win, and a deleted workspace's name may be taken again (by the same stream).
 */
@Injectable()
export class WorkspacesService {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  async find(name: string): Promise<Workspace | undefined> {
    const [row] = await this.runtime.db.query<WorkspaceRow[]>('SELECT * FROM dockyard_workspaces WHERE name = ?', [name]);
    return row ? toWorkspace(row) : undefined;
  }

  async require(name: string): Promise<Workspace> {
    const found = await this.find(name);
    if (!found) throw workspaceNotFound(name);
    return found;
  }

  /** Workspaces in the given `org/project` places or organizations, or public ones. */
  async list(filter: { condition: { sql: string; parameters: unknown[] }; includePublic: boolean; org?: string; project?: string }): Promise<Workspace[]> {
    const where = [`(${filter.condition.sql}${filter.includePublic ? " OR visibility = 'public'" : ''})`];
    const parameters = [...filter.condition.parameters];
    if (filter.org) {
      where.push('org = ?');
      parameters.push(filter.org);
    }
    if (filter.project) {
      where.push('project = ?');
      parameters.push(filter.project);
    }
    const rows = await this.runtime.db.query<WorkspaceRow[]>(
      `SELECT * FROM (SELECT w.*, ${this.placeExpression()} AS place FROM dockyard_workspaces w) scoped WHERE ${where.join(' AND ')} ORDER BY name LIMIT 1000`,
      parameters,
    );
    return rows.map(toWorkspace);
  }

  async create(input: { name: string; org: string; project: string; visibility: WorkspaceVisibility; description: string }, actor: string): Promise<Workspace> {
    // `/api/v1/...` is the REST API's, `/api/<workspace>/charts` the chart API's: version-like names would collide.
    if (RESERVED_NAME.test(input.name)) {
      throw new InvalidInputError('WORKSPACE.NAME_RESERVED', `${input.name} is reserved for API versions (v1, v2, ...); pick another workspace name.`);
    }
    const [{ count }] = await this.runtime.db.query<{ count: number | string }[]>('SELECT COUNT(*) AS count FROM dockyard_workspaces WHERE org = ?', [input.org]);
    if (Number(count) >= MAX_WORKSPACES_PER_ORG) {
      throw new InvalidInputError('WORKSPACE.LIMIT', `Organization ${input.org} already has ${MAX_WORKSPACES_PER_ORG} workspaces, the most one may hold; delete one first.`);
    }
    const stream = workspaceStream(input.name);
    const history = await this.runtime.store.readStream(stream);
    const last = history[history.length - 1];
    if (last && last.type !== 'WorkspaceDeleted') throw this.exists(input.name);
    const created: WorkspaceCreated = { workspace: input.name, ...input, createdBy: actor };
    await this.append(stream, history.length || 'no-stream', { type: 'WorkspaceCreated', data: created }, actor, () => this.exists(input.name));
    return this.require(input.name);
  }

  async update(name: string, change: { visibility?: WorkspaceVisibility; description?: string }, actor: string): Promise<Workspace> {
    const current = await this.require(name);
    const stream = workspaceStream(name);
    const history = await this.runtime.store.readStream(stream);
    const events: { type: string; data: object }[] = [];
    if (change.visibility && change.visibility !== current.visibility) {
      events.push({ type: 'WorkspaceVisibilityChanged', data: { workspace: name, visibility: change.visibility } satisfies WorkspaceVisibilityChanged });
    }
    if (change.description !== undefined && change.description !== current.description) {
      events.push({ type: 'WorkspaceDescriptionChanged', data: { workspace: name, description: change.description } satisfies WorkspaceDescriptionChanged });
    }
    if (!events.length) return current;
    const recorded = await this.appendAll(stream, history.length, events, actor, () => new ConflictError('WORKSPACE.CHANGED', `Workspace ${name} was changed at the same time; read it again and retry.`));
    await this.runtime.projections.settle(recorded[recorded.length - 1].position);
    return this.require(name);
  }

  async delete(name: string, actor: string, contents: WorkspaceContents): Promise<void> {
    await this.require(name);
    const held = await contents.describe(name);
    if (held) throw new ConflictError('WORKSPACE.NOT_EMPTY', `Workspace ${name} still holds ${held}; delete them first.`);
    await contents.release(name);
    const history = await this.runtime.store.readStream(workspaceStream(name));
    await this.append(workspaceStream(name), history.length, { type: 'WorkspaceDeleted', data: { workspace: name } satisfies WorkspaceDeleted }, actor, () =>
      new ConflictError('WORKSPACE.CHANGED', `Workspace ${name} was changed at the same time; read it again and retry.`),
    );
  }

  private async append(stream: string, expected: number | 'no-stream', event: { type: string; data: object }, actor: string, conflict: () => Error): Promise<void> {
    const recorded = await this.appendAll(stream, expected, [event], actor, conflict);
    await this.runtime.projections.settle(recorded[recorded.length - 1].position);
  }

  private async appendAll(stream: string, expected: number | 'no-stream', events: { type: string; data: object }[], actor: string, conflict: () => Error): Promise<RecordedEvent<object>[]> {
    try {
      return await this.runtime.store.append<object>(stream, expected, events, { actor });
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) throw conflict();
      throw error;
    }
  }

  private exists(name: string): ConflictError {
    return new ConflictError('WORKSPACE.EXISTS', `A workspace named ${name} exists already; workspace names are unique across the registry, pick another.`);
  }

  private placeExpression(): string {
    return this.runtime.db.dialect === 'mysql' ? "CONCAT(w.org, '/', w.project)" : "(w.org || '/' || w.project)";
  }
}

function toWorkspace(row: WorkspaceRow): Workspace {
  return {
    name: row.name,
    org: row.org,
    project: row.project,
    visibility: row.visibility as WorkspaceVisibility,
    description: row.description,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
