import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ACCESS_CONTROL, type AccessControl, type QuotaLimits } from '@co/auth';
import { Database } from '@co/eventstore';
import { QuotaExceededError, type QuotaName } from './quota-exceeded.error';

/** Runs that hold a slot: requested and not yet ended. */
const ACTIVE_RUN_STATUSES = ['queued', 'running'];

/**
 * Checks crew's quotas before pilotage creates a workflow or starts a run. Limits come
 * from crew (AccessControl.quota); usage is counted in pilotage's own read models,
 * which are current for this service's writes. The check and the write are not one
 * transaction: two creates at the same instant may both pass the last free slot.
 */
@Injectable()
export class QuotaGate {
  private resolved?: AccessControl;

  constructor(
    private readonly modules: ModuleRef,
    private readonly db: Database,
  ) {}

  private get access(): AccessControl {
    this.resolved ??= this.modules.get<AccessControl>(ACCESS_CONTROL, { strict: false });
    return this.resolved;
  }

  /** `project` is `org/project`. Throws QuotaExceededError when no workflow may be added. */
  async checkWorkflowCreate(project: string): Promise<void> {
    await this.check(project, 'maxWorkflows', (where, parameters) =>
      this.count(`SELECT COUNT(*) AS n FROM pilotage_workflows WHERE ${where}`, parameters),
    );
  }

  /** `project` is `org/project`. Throws QuotaExceededError when no run may start now. */
  async checkRunStart(project: string): Promise<void> {
    await this.check(project, 'maxConcurrentRuns', (where, parameters) =>
      this.count(
        `SELECT COUNT(*) AS n FROM pilotage_runs WHERE ${where} AND status IN (${ACTIVE_RUN_STATUSES.map(() => '?').join(', ')})`,
        [...parameters, ...ACTIVE_RUN_STATUSES],
      ),
    );
  }

  private async check(path: string, quota: QuotaName, usage: (where: string, parameters: unknown[]) => Promise<number>): Promise<void> {
    const slash = path.indexOf('/');
    const org = slash > 0 ? path.slice(0, slash) : path;
    const project = slash > 0 ? path.slice(slash + 1) : '';
    const limits = await this.access.quota(org, project || undefined);
    const projectLimit = limitOf(limits.project, quota);
    if (projectLimit !== undefined) {
      const used = await usage('project = ?', [path]);
      if (used >= projectLimit) throw new QuotaExceededError({ quota, scope: 'project', org, project, limit: projectLimit, usage: used });
    }
    const orgLimit = limitOf(limits.org, quota);
    if (orgLimit !== undefined) {
      const used = await usage('project LIKE ?', [`${org.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`]);
      if (used >= orgLimit) throw new QuotaExceededError({ quota, scope: 'organization', org, project, limit: orgLimit, usage: used });
    }
  }

  private async count(sql: string, parameters: unknown[]): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }[]>(sql, parameters);
    return Number(row?.n ?? 0);
  }
}

function limitOf(limits: QuotaLimits | undefined, quota: QuotaName): number | undefined {
  const value = limits?.[quota];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
