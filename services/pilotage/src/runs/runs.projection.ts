import type { EntityManager } from 'typeorm';
import type { Projection, RecordedEvent } from '@co/eventstore';
import type { RunEvent } from './run.events';
import { evolve, type RunState } from './run-state';

export const RUNS_PROJECTION = 'pilotage-runs';

function time(manager: EntityManager, value: string | undefined): Date | string | null {
  if (!value) return null;
  return manager.connection.options.type === 'mysql' ? new Date(value) : new Date(value).toISOString();
}

/** `pilotage_runs`: one row per run holding its folded state. */
export class RunsProjection implements Projection {
  readonly name = RUNS_PROJECTION;

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    if (!recorded.streamId.startsWith('run-')) return;
    const event = { ...(recorded as RecordedEvent & RunEvent), tenant: recorded.metadata.tenant };
    if (event.type === 'RunRequested') {
      const state = evolve(undefined, event);
      await manager.query(
        `INSERT INTO pilotage_runs (id, stream_id, workflow_id, project, number, status, state, requested_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
        [state.id, state.streamId, state.workflowId, state.project, state.number, state.status, JSON.stringify(state), time(manager, state.requestedAt)],
      );
      return;
    }
    const rows = await manager.query<{ state: string }[]>('SELECT state FROM pilotage_runs WHERE stream_id = ?', [recorded.streamId]);
    if (rows.length === 0) return;
    const previous = JSON.parse(rows[0].state) as RunState;
    if (previous.version >= recorded.streamVersion) return;
    const state = evolve(previous, event);
    await manager.query('UPDATE pilotage_runs SET status = ?, state = ?, finished_at = ? WHERE stream_id = ?', [
      state.status,
      JSON.stringify(state),
      time(manager, state.finishedAt),
      recorded.streamId,
    ]);
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM pilotage_runs');
  }
}
