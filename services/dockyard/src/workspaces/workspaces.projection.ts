import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { WorkspaceCreated, WorkspaceDescriptionChanged, WorkspaceVisibilityChanged } from './workspace.events';

/** `dockyard_workspaces`: one row per live workspace. */
export class WorkspacesProjection implements Projection {
  readonly name = 'dockyard-workspaces';

  async apply(event: RecordedEvent, manager: EntityManager): Promise<void> {
    const time = sqlTime(manager, event.occurredAt);
    switch (event.type) {
      case 'WorkspaceCreated': {
        const data = event.data as unknown as WorkspaceCreated;
        await manager.query('DELETE FROM dockyard_workspaces WHERE name = ?', [data.workspace]);
        await manager.query(
          'INSERT INTO dockyard_workspaces (name, org, project, visibility, description, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [data.workspace, data.org, data.project, data.visibility, data.description, data.createdBy, time, time],
        );
        return;
      }
      case 'WorkspaceVisibilityChanged': {
        const data = event.data as unknown as WorkspaceVisibilityChanged;
        await manager.query('UPDATE dockyard_workspaces SET visibility = ?, updated_at = ? WHERE name = ?', [data.visibility, time, data.workspace]);
        return;
      }
      case 'WorkspaceDescriptionChanged': {
        const data = event.data as unknown as WorkspaceDescriptionChanged;
        await manager.query('UPDATE dockyard_workspaces SET description = ?, updated_at = ? WHERE name = ?', [data.description, time, data.workspace]);
        return;
      }
      case 'WorkspaceDeleted':
        await manager.query('DELETE FROM dockyard_workspaces WHERE name = ?', [(event.data as { workspace: string }).workspace]);
        return;
      default:
        return;
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM dockyard_workspaces');
  }
}
