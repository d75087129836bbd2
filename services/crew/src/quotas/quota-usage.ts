import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { subscribeToEvents, type EventEnvelope } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';

/** Events that end a run (pilotage's `run.events.ts`). */
const RUN_ENDINGS = new Set(['RunSucceeded', 'RunFailed', 'RunStopped', 'RunTimedOut']);

export interface QuotaUsage {
  workflows: number;
  concurrentRuns: number;
  /** Not measured yet: dockyard publishes no storage events; always 0. */
  registryBytes: number;
}

export const NO_USAGE: QuotaUsage = { workflows: 0, concurrentRuns: 0, registryBytes: 0 };

/**
 * What organizations and projects use, followed from pilotage's events: a workflow
 * counts from WorkflowCreated until WorkflowDeleted, a run from RunRequested until the
 * event that ends it. Events may come twice or out of order: an ending that arrives
 * first leaves a tombstone that the late start does not revive.
 */
@Injectable()
export class QuotaUsageTracker implements OnApplicationBootstrap {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, db, config } = this.runtime;
    const prefix = config.bus.subjectPrefix;
    await bus.ensureStream('pilotage');
    await subscribeToEvents(bus, db, {
      durable: 'crew-quota-workflows',
      subject: `${prefix}.pilotage.workflow.>`,
      handleBatch: (events, manager) => this.applyWorkflowEvents(events, manager),
    });
    await subscribeToEvents(bus, db, {
      durable: 'crew-quota-runs',
      subject: `${prefix}.pilotage.run.>`,
      handleBatch: (events, manager) => this.applyRunEvents(events, manager),
    });
  }

  /** Usage of every project of `org` that uses anything, by project name. */
  async byProject(org: string): Promise<Map<string, QuotaUsage>> {
    const usage = new Map<string, QuotaUsage>();
    const entry = (project: string) => {
      let found = usage.get(project);
      if (!found) usage.set(project, (found = { ...NO_USAGE }));
      return found;
    };
    const db = this.runtime.db;
    const workflows = await db.query<{ project: string; n: number | string }[]>(
      'SELECT project, COUNT(*) AS n FROM crew_quota_workflows WHERE org = ? AND deleted = 0 GROUP BY project',
      [org],
    );
    for (const row of workflows) entry(row.project).workflows = Number(row.n);
    const runs = await db.query<{ project: string; n: number | string }[]>(
      'SELECT project, COUNT(*) AS n FROM crew_quota_runs WHERE org = ? AND active = 1 GROUP BY project',
      [org],
    );
    for (const row of runs) entry(row.project).concurrentRuns = Number(row.n);
    return usage;
  }

  private async applyWorkflowEvents(events: EventEnvelope[], manager: EntityManager): Promise<void> {
    for (const event of events) {
      if (!event.streamId?.startsWith('workflow-')) continue;
      const workflowId = event.streamId.slice('workflow-'.length);
      const [row] = await manager.query<{ deleted: number }[]>('SELECT deleted FROM crew_quota_workflows WHERE workflow_id = ?', [workflowId]);
      if (event.type === 'WorkflowCreated' && !row) {
        const [org, project] = splitProject(event.data.project);
        await manager.query('INSERT INTO crew_quota_workflows (workflow_id, org, project, deleted) VALUES (?, ?, ?, 0)', [workflowId, org, project]);
      } else if (event.type === 'WorkflowDeleted') {
        if (row) await manager.query('UPDATE crew_quota_workflows SET deleted = 1 WHERE workflow_id = ?', [workflowId]);
        else await manager.query("INSERT INTO crew_quota_workflows (workflow_id, org, project, deleted) VALUES (?, '', '', 1)", [workflowId]);
      }
    }
  }

  private async applyRunEvents(events: EventEnvelope[], manager: EntityManager): Promise<void> {
    for (const event of events) {
      if (event.type !== 'RunRequested' && !RUN_ENDINGS.has(event.type)) continue;
      const [row] = await manager.query<{ active: number }[]>('SELECT active FROM crew_quota_runs WHERE stream_id = ?', [event.streamId]);
      if (event.type === 'RunRequested') {
        if (row) continue;
        const [org, project] = splitProject(event.data.project);
        await manager.query('INSERT INTO crew_quota_runs (stream_id, org, project, active) VALUES (?, ?, ?, 1)', [event.streamId, org, project]);
      } else if (row) {
        await manager.query('UPDATE crew_quota_runs SET active = 0 WHERE stream_id = ?', [event.streamId]);
      } else {
        await manager.query("INSERT INTO crew_quota_runs (stream_id, org, project, active) VALUES (?, '', '', 0)", [event.streamId]);
      }
    }
  }
}

/** Pilotage names a project `org/project`. */
function splitProject(value: unknown): [string, string] {
  const text = typeof value === 'string' ? value : '';
  const slash = text.indexOf('/');
  return slash > 0 ? [text.slice(0, slash), text.slice(slash + 1)] : [text, ''];
}
