import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventBus } from '@co/bus';
import { AUDIT_AGGREGATE, AUDIT_EVENT_TYPE, auditSubject, type AuditRecord } from './audit-record';

export interface AuditPublisherOptions {
  service: string;
  subjectPrefix: string;
  logger: Logger;
}

/**
 * Publishes audit records on the service's bus. Records go straight to the bus, not
 * through the event table: most audited calls change nothing (a refused one, a failed
 * login), and an audit record must not roll back with the call it describes. A
 * publish that fails is logged and dropped: auditing never fails the call.
 */
export class AuditPublisher {
  private readonly subject: string;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly bus: EventBus,
    private readonly options: AuditPublisherOptions,
  ) {
    this.subject = auditSubject(options.subjectPrefix, options.service);
  }

  record(fields: Omit<AuditRecord, 'id' | 'service' | 'at'>): void {
    const record: AuditRecord = { id: randomUUID(), service: this.options.service, at: new Date().toISOString(), ...fields };
    const publishing = this.publish(record).finally(() => this.inFlight.delete(publishing));
    this.inFlight.add(publishing);
  }

  /** Resolves when every record handed over so far has been published or given up. */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async publish(record: AuditRecord): Promise<void> {
    try {
      // Shaped as an event envelope, so that consumers read it like any other event.
      await this.bus.publish({
        id: record.id,
        subject: this.subject,
        data: {
          position: 0,
          id: record.id,
          streamId: `${AUDIT_AGGREGATE}-${record.id}`,
          streamVersion: 1,
          type: AUDIT_EVENT_TYPE,
          schemaVersion: 1,
          data: record,
          metadata: { actor: actorOf(record), tenant: record.org },
          service: record.service,
          occurredAt: record.at,
        },
        headers: {
          'Co-Event-Type': AUDIT_EVENT_TYPE,
          'Co-Service': record.service,
          ...(record.org ? { 'Co-Tenant': record.org } : {}),
        },
      });
    } catch (error) {
      this.options.logger.warn({ err: error, auditId: record.id, action: record.action }, 'audit record could not be published; it is lost');
    }
  }
}

function actorOf(record: AuditRecord): string {
  if (record.actor.tokenId) return `token:${record.actor.tokenId}`;
  return record.actor.userId ? `user:${record.actor.userId}` : 'anonymous';
}
