import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { WorkflowEvent } from './workflow.events';

/** `pilotage_workflows` (current state) and `pilotage_workflow_revisions` (every save). */
export class WorkflowsProjection implements Projection {
  readonly name = 'pilotage-workflows';

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    if (!recorded.streamId.startsWith('workflow-')) return;
    const event = recorded as RecordedEvent & WorkflowEvent;
    const id = recorded.streamId.slice('workflow-'.length);
    const at = sqlTime(manager, recorded.occurredAt);
    switch (event.type) {
      case 'WorkflowCreated': {
        const definition = JSON.stringify(event.data.definition);
        await manager.query(
          `INSERT INTO pilotage_workflows (id, project, name, revision, active, definition, created_by, created_at, updated_at)
           VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?)`,
          [id, event.data.project, event.data.name, definition, event.data.createdBy ?? null, at, at],
        );
        await manager.query(
          'INSERT INTO pilotage_workflow_revisions (workflow_id, revision, definition, created_by, created_at) VALUES (?, 1, ?, ?, ?)',
          [id, definition, event.data.createdBy ?? null, at],
        );
        break;
      }
      case 'WorkflowRevised': {
        const definition = JSON.stringify(event.data.definition);
        await manager.query('UPDATE pilotage_workflows SET revision = ?, definition = ?, updated_at = ? WHERE id = ?', [
          event.data.revision,
          definition,
          at,
          id,
        ]);
        await manager.query(
          'INSERT INTO pilotage_workflow_revisions (workflow_id, revision, definition, created_by, created_at) VALUES (?, ?, ?, ?, ?)',
          [id, event.data.revision, definition, event.data.revisedBy ?? null, at],
        );
        break;
      }
      case 'WorkflowActivated':
      case 'WorkflowDeactivated':
        await manager.query('UPDATE pilotage_workflows SET active = ?, updated_at = ? WHERE id = ?', [
          event.type === 'WorkflowActivated' ? 1 : 0,
          at,
          id,
        ]);
        break;
      case 'WorkflowDeleted':
        await manager.query('DELETE FROM pilotage_workflow_revisions WHERE workflow_id = ?', [id]);
        await manager.query('DELETE FROM pilotage_workflows WHERE id = ?', [id]);
        break;
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM pilotage_workflow_revisions');
    await manager.query('DELETE FROM pilotage_workflows');
  }
}
