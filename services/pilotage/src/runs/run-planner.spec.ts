import type { WorkflowDocument } from '../workflows/workflow-definition';
import type { RunEvent } from './run.events';
import { planRun } from './run-planner';
import { evolve, type RunState } from './run-state';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function document(spec: Partial<WorkflowDocument['spec']>): WorkflowDocument {
  return { apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name: 'w', project: 'o/p' }, spec: { stages: [], ...spec } };
}

function fold(snapshot: WorkflowDocument, events: RunEvent[]): RunState {
  let state = evolve(undefined, {
    type: 'RunRequested',
    data: { runId: 'r', workflowId: 'w', workflowName: 'w', project: 'o/p', revision: 1, number: 1, snapshot, params: {}, trigger: { type: 'manual' } },
    streamId: 'run-w.1',
    streamVersion: 1,
    occurredAt: new Date(T0),
  });
  for (const event of events) state = evolve(state, { ...event, streamId: 'run-w.1', streamVersion: state.version + 1, occurredAt: new Date(T0) });
  return state;
}

const image = (name: string, extra: object = {}) => ({ name, image: 'x', ...extra });

describe('planRun', () => {
  it('starts the first stage, queues every action of a parallel stage and launches them', () => {
    const snapshot = document({ stages: [{ name: 's', sequencing: 'parallel', actions: [image('a'), image('b')] }] });
    let state = fold(snapshot, [{ type: 'RunStarted', data: { at: at(0) } }]);
    expect(planRun(state, T0).events).toEqual([{ type: 'StageStarted', data: { stage: 's', at: at(0) } }]);
    state = fold(snapshot, [{ type: 'RunStarted', data: { at: at(0) } }, { type: 'StageStarted', data: { stage: 's', at: at(0) } }]);
    expect(planRun(state, T0).events.map((event) => event.type === 'TaskQueued' && event.data.action)).toEqual(['a', 'b']);
  });

  it('retries a failed attempt after base·2^(n-1) and fails the stage once the attempts are spent', () => {
    const snapshot = document({ stages: [{ name: 's', actions: [image('a', { retries: { limit: 2, backoff: '1s' } })] }] });
    const base: RunEvent[] = [
      { type: 'RunStarted', data: { at: at(0) } },
      { type: 'StageStarted', data: { stage: 's', at: at(0) } },
      { type: 'TaskQueued', data: { stage: 's', action: 'a', attempt: 1 } },
      { type: 'TaskStarted', data: { stage: 's', action: 'a', attempt: 1, containerId: 'c1', containerName: 'n1', at: at(0), pullMs: 0 } },
      { type: 'TaskFinished', data: { stage: 's', action: 'a', attempt: 1, outcome: 'failed', exitCode: 1, reason: 'exit code 1', at: at(100) } },
    ];
    expect(planRun(fold(snapshot, base), T0 + 100).events).toEqual([
      { type: 'TaskQueued', data: { stage: 's', action: 'a', attempt: 2, notBefore: at(1100) } },
    ]);
    const second: RunEvent[] = [
      ...base,
      { type: 'TaskQueued', data: { stage: 's', action: 'a', attempt: 2, notBefore: at(1100) } },
    ];
    const waiting = planRun(fold(snapshot, second), T0 + 500);
    expect(waiting).toMatchObject({ events: [], launch: [], wakeAt: T0 + 1100 });
    expect(planRun(fold(snapshot, second), T0 + 1100).launch).toEqual([{ stage: 's', action: 'a', attempt: 2 }]);
    const spent: RunEvent[] = [
      ...second,
      { type: 'TaskStarted', data: { stage: 's', action: 'a', attempt: 2, containerId: 'c2', containerName: 'n2', at: at(1100), pullMs: 0 } },
      { type: 'TaskFinished', data: { stage: 's', action: 'a', attempt: 2, outcome: 'failed', exitCode: 1, reason: 'exit code 1', at: at(1200) } },
    ];
    expect(planRun(fold(snapshot, spent), T0 + 1200).events[0]).toEqual({
      type: 'TaskQueued',
      data: { stage: 's', action: 'a', attempt: 3, notBefore: at(1200 + 2000) },
    });
  });

  it('does not count image pulls against the run timeout', () => {
    const snapshot = document({ timeout: '10s', stages: [{ name: 's', actions: [image('a')] }] });
    const state = fold(snapshot, [
      { type: 'RunStarted', data: { at: at(0) } },
      { type: 'StageStarted', data: { stage: 's', at: at(0) } },
      { type: 'TaskQueued', data: { stage: 's', action: 'a', attempt: 1 } },
      { type: 'TaskStarted', data: { stage: 's', action: 'a', attempt: 1, containerId: 'c', containerName: 'n', at: at(6000), pullMs: 6000 } },
    ]);
    expect(planRun(state, T0 + 12_000).stop).toEqual([]);
    expect(planRun(state, T0 + 12_000).wakeAt).toBe(T0 + 16_000);
    expect(planRun(state, T0 + 16_000).stop).toEqual([
      { stage: 's', action: 'a', attempt: 1, outcome: 'timed_out', reason: 'run timed out after 10s while s.a was running' },
    ]);
  });

  it('stops a queued run without starting it when a stop was requested', () => {
    const snapshot = document({ stages: [{ name: 's', actions: [image('a')] }, { name: 't', actions: [] }] });
    const state = fold(snapshot, [{ type: 'RunStopRequested', data: { reason: 'stopped by alice', at: at(0) } }]);
    expect(planRun(state, T0).events.map((event) => event.type)).toEqual(['StageFinished', 'StageFinished', 'RunStopped']);
  });

  it('finishes empty stages at once and succeeds the run', () => {
    const snapshot = document({ stages: [{ name: 'Source', actions: [] }] });
    let state = fold(snapshot, [{ type: 'RunStarted', data: { at: at(0) } }, { type: 'StageStarted', data: { stage: 'Source', at: at(0) } }]);
    expect(planRun(state, T0).events).toEqual([{ type: 'StageFinished', data: { stage: 'Source', status: 'succeeded', at: at(0) } }]);
    state = fold(snapshot, [
      { type: 'RunStarted', data: { at: at(0) } },
      { type: 'StageStarted', data: { stage: 'Source', at: at(0) } },
      { type: 'StageFinished', data: { stage: 'Source', status: 'succeeded', at: at(0) } },
    ]);
    expect(planRun(state, T0).events).toEqual([{ type: 'RunSucceeded', data: { at: at(0) } }]);
  });
});
