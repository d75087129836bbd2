import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { auditSubjects, type AuditRecord } from '@co/auth';
import { SERVICE_NAMES } from '@co/common';
import { sqlTime, subscribeToEvents, type EventEnvelope } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { AUDIT_SETTINGS, type AuditSettings } from './audit-settings';

const DAY_MS = 24 * 3600 * 1000;
export const MAX_PAGE_SIZE = 200;

export interface AuditQuery {
  org?: string;
  /** A user id or a username. */
  user?: string;
  action?: string;
  since?: Date;
  until?: Date;
  page: number;
  pageSize: number;
}

/** Where the caller may read: everywhere, or these organizations and `org/project`s. */
export interface AuditReach {
  everywhere: boolean;
  orgs: string[];
  projects: string[];
}

export interface AuditPage {
  items: AuditRecord[];
  page: number;
  pageSize: number;
  total: number;
  /** The next page's number, or null on the last page. */
  nextPage: number | null;
}

/**
 * crew's store of every service's audit records: one durable consumer per service on
 * `<prefix>.<service>.audit.>`, records kept for the retention period.
 */
@Injectable()
export class AuditTrail implements OnApplicationBootstrap, OnApplicationShutdown {
  private cleanupTimer?: NodeJS.Timeout;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(AUDIT_SETTINGS) private readonly settings: AuditSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, db, config } = this.runtime;
    for (const service of SERVICE_NAMES) {
      // Another service's stream may not exist yet: declaring it lets crew subscribe first.
      await bus.ensureStream(service);
      await subscribeToEvents(bus, db, {
        durable: `crew-audit-${service}`,
        subject: auditSubjects(config.bus.subjectPrefix, service),
        handleBatch: (events, manager) => this.store(events, manager),
      });
    }
    await this.deleteExpired();
    this.cleanupTimer = setInterval(() => void this.deleteExpired(), DAY_MS);
    this.cleanupTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.cleanupTimer);
  }

  async deleteExpired(now = new Date()): Promise<void> {
    const cutoff = new Date(now.getTime() - this.settings.retentionDays * DAY_MS);
    try {
      await this.runtime.db.query('DELETE FROM crew_audit WHERE at < ?', [sqlTime(this.runtime.db, cutoff)]);
    } catch (error) {
      this.runtime.logger.warn({ err: error }, 'expired audit records could not be deleted; retrying tomorrow');
    }
  }

  async find(query: AuditQuery, reach: AuditReach): Promise<AuditPage> {
    const db = this.runtime.db;
    const where: string[] = [];
    const parameters: unknown[] = [];
    if (!reach.everywhere) {
      const places = [
        ...reach.orgs.map((org) => {
          parameters.push(org);
          return 'org = ?';
        }),
        ...reach.projects.map((path) => {
          const [org, project] = path.split('/', 2);
          parameters.push(org, project);
          return '(org = ? AND project = ?)';
        }),
      ];
      where.push(places.length ? `(${places.join(' OR ')})` : '1 = 0');
    }
    if (query.org !== undefined) {
      where.push('org = ?');
      parameters.push(query.org);
    }
    if (query.user !== undefined) {
      where.push('(user_id = ? OR username = ?)');
      parameters.push(query.user, query.user);
    }
    if (query.action !== undefined) {
      where.push('action = ?');
      parameters.push(query.action);
    }
    if (query.since) {
      where.push('at >= ?');
      parameters.push(sqlTime(db, query.since));
    }
    if (query.until) {
      where.push('at < ?');
      parameters.push(sqlTime(db, query.until));
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [{ total }] = await db.query<{ total: number | string }[]>(`SELECT COUNT(*) AS total FROM crew_audit ${filter}`, parameters);
    const rows = await db.query<{ record: string }[]>(
      `SELECT record FROM crew_audit ${filter} ORDER BY at DESC, id DESC LIMIT ${query.pageSize} OFFSET ${(query.page - 1) * query.pageSize}`,
      parameters,
    );
    const count = Number(total);
    return {
      items: rows.map((row) => JSON.parse(row.record) as AuditRecord),
      page: query.page,
      pageSize: query.pageSize,
      total: count,
      nextPage: query.page * query.pageSize < count ? query.page + 1 : null,
    };
  }

  private async store(events: EventEnvelope[], manager: EntityManager): Promise<void> {
    const records = events.map((event) => event.data as unknown as AuditRecord).filter(isRecord);
    if (records.length === 0) return;
    const ids = records.map((record) => record.id);
    const known = new Set(
      (await manager.query<{ id: string }[]>(`SELECT id FROM crew_audit WHERE id IN (${ids.map(() => '?').join(', ')})`, ids)).map((row) => row.id),
    );
    const fresh = records.filter((record) => !known.has(record.id) && known.add(record.id));
    if (fresh.length === 0) return;
    await manager.query(
      `INSERT INTO crew_audit (id, at, service, org, project, user_id, username, token_id, action, outcome, status, record)
       VALUES ${fresh.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      fresh.flatMap((record) => [
        record.id,
        sqlTime(manager, new Date(record.at)),
        record.service,
        record.org ?? null,
        record.project ?? null,
        record.actor.userId ?? null,
        record.actor.username ?? null,
        record.actor.tokenId ?? null,
        record.action.slice(0, 191),
        record.outcome,
        record.status,
        JSON.stringify(record),
      ]),
    );
  }
}

/** A malformed message is skipped rather than retried forever. */
function isRecord(value: AuditRecord | undefined): value is AuditRecord {
  return (
    !!value &&
    typeof value.id === 'string' &&
    typeof value.action === 'string' &&
    typeof value.service === 'string' &&
    !Number.isNaN(Date.parse(value.at)) &&
    typeof value.actor === 'object' &&
    value.actor !== null
  );
}
