import { Inject, Injectable } from '@nestjs/common';
import type { QuotaLimits } from '@co/auth';
import { Database, EventStore, ProjectionRunner } from '@co/eventstore';
import { QUOTA_DEFAULTS, type QuotaDefaults } from './quota-defaults';
import { QUOTA_KEYS, quotaStreamId, type QuotaKey, type QuotaSet, type QuotaValues } from './quota.events';
import type { QuotaReader } from './quota.port';
import { QuotaUsageTracker, NO_USAGE, type QuotaUsage } from './quota-usage';

/** Effective limits as the API shows them: null is no limit. */
export type EffectiveLimits = Record<QuotaKey, number | null>;

export interface QuotaScopeView {
  limits: EffectiveLimits;
  usage: QuotaUsage;
}

export interface OrganizationQuotas {
  org: QuotaScopeView & { name: string };
  projects: (QuotaScopeView & { project: string })[];
}

const UNLIMITED: EffectiveLimits = { maxWorkflows: null, maxConcurrentRuns: null, maxRegistryBytes: null };

/**
 * Quota limits (event-sourced: `QuotaSet` replaces a scope's limits) and their usage.
 * An organization without a value takes the configured default; a project without
 * one has no limit of its own (its organization's still applies).
 */
@Injectable()
export class QuotasService implements QuotaReader {
  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projections: ProjectionRunner,
    private readonly usage: QuotaUsageTracker,
    @Inject(QUOTA_DEFAULTS) private readonly defaults: QuotaDefaults,
  ) {}

  async set(org: string, project: string | undefined, limits: QuotaValues, actor?: string): Promise<QuotaScopeView> {
    const data: QuotaSet = { org, ...(project ? { project } : {}), limits: definedOnly(limits) };
    const recorded = await this.store.append(quotaStreamId(org, project), 'any', [{ type: 'QuotaSet', data: data as unknown as Record<string, unknown> }], {
      actor,
      tenant: org,
    });
    await this.projections.settle(recorded[recorded.length - 1].position);
    const configured = await this.configured(org);
    const usage = await this.usage.byProject(org);
    return project
      ? { limits: effective(configured.get(project), UNLIMITED), usage: usage.get(project) ?? { ...NO_USAGE } }
      : { limits: effective(configured.get(''), this.defaults), usage: total(usage.values()) };
  }

  /** QuotaReader: what AccessControl.quota answers; undefined is no limit. */
  async limits(org: string, project?: string): Promise<{ org: QuotaLimits; project: QuotaLimits }> {
    const configured = await this.configured(org, project);
    return {
      org: asQuotaLimits(effective(configured.get(''), this.defaults)),
      project: project ? asQuotaLimits(effective(configured.get(project), UNLIMITED)) : {},
    };
  }

  /** The organization's limits and usage, and those of each of its projects. */
  async view(org: string): Promise<OrganizationQuotas> {
    const configured = await this.configured(org);
    const usage = await this.usage.byProject(org);
    const known = await this.db.query<{ name: string }[]>('SELECT name FROM crew_projects WHERE org = ?', [org]);
    const names = new Set<string>([...known.map((row) => row.name), ...configured.keys(), ...usage.keys()]);
    names.delete('');
    return {
      org: { name: org, limits: effective(configured.get(''), this.defaults), usage: total(usage.values()) },
      projects: [...names].sort().map((project) => ({
        project,
        limits: effective(configured.get(project), UNLIMITED),
        usage: usage.get(project) ?? { ...NO_USAGE },
      })),
    };
  }

  /** The values set on `org` ('' key) and its projects (or only on `project`). */
  private async configured(org: string, project?: string): Promise<Map<string, QuotaValues>> {
    const rows = await this.db.query<{ project: string; limits: string }[]>(
      project === undefined
        ? 'SELECT project, limits FROM crew_quotas WHERE org = ?'
        : "SELECT project, limits FROM crew_quotas WHERE org = ? AND project IN ('', ?)",
      project === undefined ? [org] : [org, project],
    );
    return new Map(rows.map((row) => [row.project, JSON.parse(row.limits) as QuotaValues]));
  }
}

function definedOnly(limits: QuotaValues): QuotaValues {
  return Object.fromEntries(QUOTA_KEYS.filter((key) => limits[key] !== undefined).map((key) => [key, limits[key]]));
}

function effective(values: QuotaValues | undefined, fallback: EffectiveLimits): EffectiveLimits {
  const result = { ...fallback };
  for (const key of QUOTA_KEYS) if (values && values[key] !== undefined) result[key] = values[key] ?? null;
  return result;
}

function asQuotaLimits(limits: EffectiveLimits): QuotaLimits {
  return Object.fromEntries(QUOTA_KEYS.filter((key) => limits[key] !== null).map((key) => [key, limits[key]]));
}

function total(usages: Iterable<QuotaUsage>): QuotaUsage {
  const sum = { ...NO_USAGE };
  for (const usage of usages) {
    sum.workflows += usage.workflows;
    sum.concurrentRuns += usage.concurrentRuns;
    sum.registryBytes += usage.registryBytes;
  }
  return sum;
}
