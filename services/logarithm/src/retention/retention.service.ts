import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConflictError, InvalidInputError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { LOGARITHM_SETTINGS, type LogarithmSettings } from '../logarithm-settings';
import { LogStore, type SegmentRow } from '../storage/log-store';
import { retentionStream, type LogsExpired } from './retention.events';

export const MAX_RETENTION_DAYS = 36_500;
const DAY_MS = 86_400_000;
/** Segments deleted per round inside the store's exclusive section (writers wait meanwhile). */
const SEGMENTS_PER_ROUND = 500;

export interface RetentionPolicy {
  org: string;
  days: number;
  /** True when the organization has no days of its own (CO_LOGARITHM_RETENTION_DAYS applies). */
  isDefault: boolean;
}

/**
 * Retention: whole segments whose last line arrived more than the organization's days
 * ago are deleted, files and index rows, and the run is reported (event and log line).
 * Arrival time rather than the lines' own timestamps: a line pushed late with an old
 * timestamp is still kept for the whole period.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('Retention');
  private running = false;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(LOGARITHM_SETTINGS) private readonly settings: LogarithmSettings,
    private readonly store: LogStore,
  ) {}

  async policy(org: string): Promise<RetentionPolicy> {
    const [row] = await this.runtime.db.query<{ days: number | string }[]>('SELECT days FROM logarithm_retention WHERE org = ?', [org]);
    return row ? { org, days: Number(row.days), isDefault: false } : { org, days: this.settings.retentionDays, isDefault: true };
  }

  /** Sets an organization's days; `null` goes back to the default. */
  async setPolicy(org: string, days: number | null, by: string): Promise<RetentionPolicy> {
    if (days === null) {
      await this.runtime.db.query('DELETE FROM logarithm_retention WHERE org = ?', [org]);
      return this.policy(org);
    }
    if (!Number.isSafeInteger(days) || days < 1 || days > MAX_RETENTION_DAYS) {
      throw new InvalidInputError('LOGS.INVALID_RETENTION', `"days" must be a whole number from 1 to ${MAX_RETENTION_DAYS}, or null for the default (${this.settings.retentionDays}).`);
    }
    await this.runtime.db.transaction(async (manager) => {
      await manager.query('DELETE FROM logarithm_retention WHERE org = ?', [org]);
      await manager.query('INSERT INTO logarithm_retention (org, days, updated_by, updated_ms) VALUES (?, ?, ?, ?)', [org, days, by, Date.now()]);
    });
    return this.policy(org);
  }

  /** One retention run; 409 LOGS.RETENTION_RUNNING while another is under way in this process. */
  async run(options: { trigger: LogsExpired['trigger']; startedBy: string; now?: Date }): Promise<LogsExpired> {
    if (this.running) throw new ConflictError('LOGS.RETENTION_RUNNING', 'A retention run is under way already; wait for it to finish.');
    this.running = true;
    try {
      return await this.expire(options.trigger, options.startedBy, options.now ?? new Date());
    } finally {
      this.running = false;
    }
  }

  private async expire(trigger: LogsExpired['trigger'], startedBy: string, now: Date): Promise<LogsExpired> {
    const started = new Date();
    const overrides = await this.runtime.db.query<{ org: string; days: number | string }[]>('SELECT org, days FROM logarithm_retention');
    const perOrg = new Map<string, LogsExpired['orgs'][number]>();
    const sweep = async (condition: string, parameters: unknown[], daysOf: (org: string) => number) => {
      for (;;) {
        const removed = await this.store.exclusive(async () => {
          const segments = await this.runtime.db.query<SegmentRow[]>(
            `SELECT id, org, project, run, file, size_bytes, line_count FROM logarithm_segments WHERE ${condition} LIMIT ${SEGMENTS_PER_ROUND}`,
            parameters,
          );
          await this.store.deleteSegments(segments);
          return segments;
        });
        for (const segment of removed) {
          const entry = perOrg.get(segment.org) ?? { org: segment.org, days: daysOf(segment.org), segments: 0, lines: 0, bytes: 0 };
          entry.segments += 1;
          entry.lines += Number(segment.line_count);
          entry.bytes += Number(segment.size_bytes);
          perOrg.set(segment.org, entry);
        }
        if (removed.length < SEGMENTS_PER_ROUND) return;
      }
    };
    const days = new Map(overrides.map((row) => [row.org, Number(row.days)]));
    for (const [org, orgDays] of days) {
      await sweep('org = ? AND last_write_ms < ?', [org, now.getTime() - orgDays * DAY_MS], () => orgDays);
    }
    const others = [...days.keys()];
    await sweep(
      `last_write_ms < ?${others.length ? ` AND org NOT IN (${others.map(() => '?').join(', ')})` : ''}`,
      [now.getTime() - this.settings.retentionDays * DAY_MS, ...others],
      () => this.settings.retentionDays,
    );
    const orgs = [...perOrg.values()].sort((a, b) => a.org.localeCompare(b.org));
    const report: LogsExpired = {
      id: randomUUID(),
      trigger,
      startedBy,
      segments: orgs.reduce((sum, entry) => sum + entry.segments, 0),
      lines: orgs.reduce((sum, entry) => sum + entry.lines, 0),
      bytes: orgs.reduce((sum, entry) => sum + entry.bytes, 0),
      orgs,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
    };
    if (report.segments > 0) {
      await this.runtime.store.append(retentionStream(started), 'any', [{ type: 'LogsExpired', data: report }], { actor: startedBy });
    }
    this.logger.log(`retention removed ${report.segments} segments (${report.lines} lines, ${report.bytes} bytes) of ${orgs.length} organizations`);
    return report;
  }
}
