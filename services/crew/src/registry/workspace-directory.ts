import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { BusSubscription } from '@co/bus';
import { Database, sqlTime, subscribeToEvents, type EventEnvelope } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import type { WorkspaceCreated, WorkspaceVisibility, WorkspaceVisibilityChanged } from './workspace.events';

/** Where a workspace's images belong, and whether anyone may pull them. */
export interface WorkspaceEntry {
  name: string;
  org: string;
  project: string;
  visibility: WorkspaceVisibility;
}

interface WorkspaceRow {
  name: string;
  org: string;
  project: string;
  visibility: string;
  stream_id: string;
  stream_version: number | string;
  deleted_at: Date | string | null;
}

export const WORKSPACE_CONSUMER = 'crew-registry-workspaces';

const SLUG = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const VISIBILITIES: readonly string[] = ['public', 'private'];

/**
 * crew's copy of dockyard's workspaces (`crew_registry_workspaces`), for the registry
 * token service: which organization and project a workspace belongs to, and whether
 * it is public. Fed by dockyard's events from the bus, each exactly once. Events of one
 * workspace stream are applied only in increasing stream version, so that a redelivered
 * older event cannot make a private workspace public again; a deleted workspace keeps a
 * tombstone for the same reason.
 */
@Injectable()
export class WorkspaceDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: BusSubscription;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly db: Database,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, config } = this.runtime;
    // dockyard may not have started yet: its stream must exist to be consumed.
    await bus.ensureStream('dockyard');
    this.subscription = await subscribeToEvents(bus, this.db, {
      durable: WORKSPACE_CONSUMER,
      subject: `${config.bus.subjectPrefix}.dockyard.workspace.>`,
      handle: (event, manager) => this.apply(event, manager),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }

  async find(name: string): Promise<WorkspaceEntry | undefined> {
    const [row] = await this.db.query<WorkspaceRow[]>('SELECT * FROM crew_registry_workspaces WHERE name = ? AND deleted_at IS NULL', [name]);
    return row ? { name: row.name, org: row.org, project: row.project, visibility: row.visibility as WorkspaceVisibility } : undefined;
  }

  async apply(event: EventEnvelope, manager: EntityManager): Promise<void> {
    const data = event.data as Record<string, unknown>;
    const name = data.workspace;
    if (typeof name !== 'string' || !SLUG.test(name) || name.length > 191) return this.skip(event, 'no valid workspace name');
    const [row] = await manager.query<WorkspaceRow[]>('SELECT * FROM crew_registry_workspaces WHERE name = ?', [name]);
    const sameStream = row !== undefined && row.stream_id === event.streamId;
    if (sameStream && Number(row.stream_version) >= event.streamVersion) return;
    const now = sqlTime(manager, new Date());
    switch (event.type) {
      case 'WorkspaceCreated': {
        const created = data as unknown as WorkspaceCreated;
        if (!isSlug(created.org) || !isSlug(created.project) || !VISIBILITIES.includes(created.visibility)) {
          return this.skip(event, 'org, project or visibility missing or not valid');
        }
        // A live workspace of another stream keeps its name; a deleted one's name may be taken again.
        if (row && !sameStream && row.deleted_at === null) return this.skip(event, 'the name belongs to another live workspace');
        await manager.query('DELETE FROM crew_registry_workspaces WHERE name = ?', [name]);
        await manager.query(
          'INSERT INTO crew_registry_workspaces (name, org, project, visibility, stream_id, stream_version, deleted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)',
          [name, created.org, created.project, created.visibility, event.streamId, event.streamVersion, now],
        );
        return;
      }
      case 'WorkspaceVisibilityChanged': {
        const changed = data as unknown as WorkspaceVisibilityChanged;
        if (!VISIBILITIES.includes(changed.visibility)) return this.skip(event, 'visibility must be public or private');
        if (!sameStream) return this.notKnown(event, row);
        await manager.query('UPDATE crew_registry_workspaces SET visibility = ?, stream_version = ?, updated_at = ? WHERE name = ?', [
          changed.visibility,
          event.streamVersion,
          now,
          name,
        ]);
        return;
      }
      case 'WorkspaceDeleted': {
        if (!sameStream) return this.notKnown(event, row);
        await manager.query('UPDATE crew_registry_workspaces SET deleted_at = ?, stream_version = ?, updated_at = ? WHERE name = ?', [
          now,
          event.streamVersion,
          now,
          name,
        ]);
        return;
      }
      default:
        // Other workspace events (renames, quotas, ...) do not change what a token grants.
        return;
    }
  }

  /**
   * A later event of a workspace whose creation has not arrived (it failed once and is
   * being redelivered) is retried rather than lost; one of another workspace that had
   * the name before is ignored.
   */
  private notKnown(event: EventEnvelope, row: WorkspaceRow | undefined): void {
    if (row) return this.skip(event, 'the name belongs to another workspace');
    throw new Error(`workspace event ${event.type} of ${event.streamId} arrived before the workspace's creation; retrying`);
  }

  private skip(event: EventEnvelope, why: string): void {
    this.runtime.logger.warn({ eventId: event.id, type: event.type, streamId: event.streamId }, `workspace event ignored: ${why}`);
  }
}

function isSlug(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(value);
}
