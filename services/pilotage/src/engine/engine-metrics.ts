import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RecordedEvent } from '@co/eventstore';
import { RUN_FINISHED_STATUS, type RunEventType, type TaskFinished } from '../runs/run.events';

/** Prometheus metrics of the engine, on the service's `/metrics`. */
export class EngineMetrics {
  private readonly tasksFinished: Counter<'outcome'>;
  private readonly runsFinished: Counter<'status'>;
  private readonly taskDuration: Histogram<'outcome'>;

  constructor(registry: Registry, activeRuns: () => number) {
    this.tasksFinished = new Counter({
      name: 'co_pilotage_tasks_finished_total',
      help: 'Task attempts finished, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.runsFinished = new Counter({
      name: 'co_pilotage_runs_finished_total',
      help: 'Runs finished, by status.',
      labelNames: ['status'],
      registers: [registry],
    });
    this.taskDuration = new Histogram({
      name: 'co_pilotage_task_duration_seconds',
      help: 'Execution time of task attempts (container start to finish), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    });
    new Gauge({
      name: 'co_pilotage_active_runs',
      help: 'Runs this engine drives now (queued or running).',
      registers: [registry],
      collect() {
        this.set(activeRuns());
      },
    });
  }

  /** Counts what the engine itself recorded. */
  recorded(event: RecordedEvent, startedAt?: string): void {
    if (event.type === 'TaskFinished') {
      const data = event.data as unknown as TaskFinished;
      this.tasksFinished.inc({ outcome: data.outcome });
      if (startedAt) this.taskDuration.observe({ outcome: data.outcome }, (Date.parse(data.at) - Date.parse(startedAt)) / 1000);
      return;
    }
    const status = RUN_FINISHED_STATUS[event.type as RunEventType];
    if (status) this.runsFinished.inc({ status });
  }
}
