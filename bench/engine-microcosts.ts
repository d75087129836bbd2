/**
 * CPU cost of the pure per-event work the engine and the runs projection repeat for
 * every event of a run, measured on the real event stream of a finished run (read
 * back from the event store): folding an event (`evolve`, which structuredClones all
 * stages), planning (`planRun`), and the runs projection's JSON round trip of the
 * whole state (SELECT state → JSON.parse → evolve → JSON.stringify → UPDATE).
 */
import type { RecordedEvent } from '@co/eventstore';
import { planRun } from '../services/pilotage/src/runs/run-planner';
import { evolve, type RunState } from '../services/pilotage/src/runs/run-state';
import type { RunEvent } from '../services/pilotage/src/runs/run.events';
import { toRunView } from '../services/pilotage/src/runs/runs.service';
import { now } from './engine-support';

export interface MicroCosts {
  events: number;
  tasks: number;
  /** µs per call, on the state of the finished run (all tasks present). */
  evolveLateUs: number;
  /** µs per call, on the state early in the run (the same structure, fewer attempts). */
  evolveEarlyUs: number;
  structuredCloneStagesUs: number;
  planRunUs: number;
  jsonStringifyUs: number;
  jsonParseUs: number;
  stateBytes: number;
  snapshotBytes: number;
  stagesBytes: number;
  runViewUs: number;
  runViewBytes: number;
  /** ms to fold the whole stream (what loadRecorded and an engine restart do). */
  foldMs: number;
}

type Evolvable = Parameters<typeof evolve>[1];

function toEvolvable(event: RecordedEvent): Evolvable {
  return { ...(event as RecordedEvent & RunEvent), tenant: event.metadata.tenant } as Evolvable;
}

/**
 * µs per call of `work`: the best of `rounds` rounds of `calls` calls. On a shared
 * machine the best round is the most repeatable estimate of the work itself; the
 * figures in the live passes (profile, counters) include GC and contention.
 */
function timeUs(work: () => unknown, calls: number, rounds = 11): number {
  for (let index = 0; index < calls; index++) work(); // warm-up
  const results: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const began = now();
    for (let index = 0; index < calls; index++) work();
    results.push(((now() - began) * 1000) / calls);
  }
  return Math.min(...results);
}

export function measureMicroCosts(recorded: RecordedEvent[]): MicroCosts {
  const events = recorded.map(toEvolvable);
  const states: RunState[] = [];
  let state: RunState | undefined;
  for (const event of events) {
    state = evolve(state, event);
    states.push(state);
  }
  const final = state!;
  const tasks = final.stages.reduce((sum, stage) => sum + stage.actions.length, 0);
  const lastFinished = events.map((event) => event.type).lastIndexOf('TaskFinished');
  const firstFinished = events.map((event) => event.type).indexOf('TaskFinished');
  const late = { before: states[lastFinished - 1], event: events[lastFinished] };
  const early = { before: states[firstFinished - 1], event: events[firstFinished] };
  // A state in the middle of the run, while a task runs: what the engine plans on most.
  const middleIndex = events.findIndex((event, index) => index > events.length / 2 && event.type === 'TaskStarted');
  const middle = states[middleIndex];
  const json = JSON.stringify(final);
  const calls = 100;
  const foldRuns: number[] = [];
  for (let round = 0; round < 7; round++) {
    const began = now();
    let folded: RunState | undefined;
    for (const event of events) folded = evolve(folded, event);
    foldRuns.push(now() - began);
  }
  const at = Date.parse(middle.startedAt ?? new Date().toISOString()) + 1000;
  const view = JSON.stringify(toRunView(final));
  return {
    events: events.length,
    tasks,
    evolveLateUs: timeUs(() => evolve(late.before, late.event), calls),
    evolveEarlyUs: timeUs(() => evolve(early.before, early.event), calls),
    structuredCloneStagesUs: timeUs(() => structuredClone(late.before.stages), calls),
    planRunUs: timeUs(() => planRun(middle, at), calls),
    jsonStringifyUs: timeUs(() => JSON.stringify(final), calls),
    jsonParseUs: timeUs(() => JSON.parse(json), calls),
    stateBytes: Buffer.byteLength(json),
    snapshotBytes: Buffer.byteLength(JSON.stringify(final.snapshot)),
    stagesBytes: Buffer.byteLength(JSON.stringify(final.stages)),
    runViewUs: timeUs(() => JSON.stringify(toRunView(final)), calls),
    runViewBytes: Buffer.byteLength(view),
    foldMs: Math.min(...foldRuns),
  };
}
