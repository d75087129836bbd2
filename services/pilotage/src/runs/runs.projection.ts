import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import { evolve, recordedRunEvent, type RunState } from './run-state';

export const RUNS_PROJECTION = 'pilotage-runs';

function time(manager: EntityManager, value: string | undefined): Date | string | null {
  return value ? sqlTime(manager, new Date(value)) : null;
}

/** A run's row: its state without the snapshot, which has a column of its own (written once). */
export function runFromRow(row: { state: string; snapshot?: string }): RunState {
  const state = JSON.parse(row.state) as RunState;
  if (row.snapshot) state.snapshot = JSON.parse(row.snapshot) as RunState['snapshot'];
  return state;
}

function stateColumn(state: RunState): string {
  return JSON.stringify({ ...state, snapshot: undefined });
}

/**
 * `pilotage_runs`: one row per run holding its folded state. Events are applied in
 * batches: a busy run's many events in one batch cost one read and one write.
 */
export class RunsProjection implements Projection {
  readonly name = RUNS_PROJECTION;

  apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    return this.applyBatch([recorded], manager);
  }

  async applyBatch(events: RecordedEvent[], manager: EntityManager): Promise<void> {
    const byRun = new Map<string, RecordedEvent[]>();
    for (const event of events) {
      if (!event.streamId.startsWith('run-')) continue;
      const list = byRun.get(event.streamId) ?? [];
      list.push(event);
      byRun.set(event.streamId, list);
    }
    for (const [streamId, runEvents] of byRun) {
      let state: RunState | undefined;
      let exists = false;
      if (runEvents[0].type !== 'RunRequested') {
        const rows = await manager.query<{ state: string; snapshot: string }[]>('SELECT state, snapshot FROM pilotage_runs WHERE stream_id = ?', [streamId]);
        if (rows.length === 0) continue;
        state = runFromRow(rows[0]);
        exists = true;
      }
      for (const recorded of runEvents) {
        if (state && state.version >= recorded.streamVersion) continue;
        state = evolve(state, recordedRunEvent(recorded));
      }
      if (!state) continue;
      if (exists) {
        await manager.query('UPDATE pilotage_runs SET status = ?, state = ?, finished_at = ? WHERE stream_id = ?', [
          state.status,
          stateColumn(state),
          time(manager, state.finishedAt),
          streamId,
        ]);
      } else {
        await manager.query(
          `INSERT INTO pilotage_runs (id, stream_id, workflow_id, project, number, status, state, snapshot, requested_at, finished_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            state.id,
            state.streamId,
            state.workflowId,
            state.project,
            state.number,
            state.status,
            stateColumn(state),
            JSON.stringify(state.snapshot),
            time(manager, state.requestedAt),
            time(manager, state.finishedAt),
          ],
        );
      }
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM pilotage_runs');
  }
}
