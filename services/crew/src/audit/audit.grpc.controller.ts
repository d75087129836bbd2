import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { AccessGate, Authenticated, type AuditRecord } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked, given } from '../grpc-calls';
import { AuditQueryParams, queryAudit } from './audit.controller';
import { AuditTrail } from './audit-trail';

/** containerops.crew.v1.AuditService: GET /api/v1/audit over gRPC, with the same access rules. */
@Controller()
@crew.AuditServiceControllerMethods()
export class AuditGrpcController implements crew.AuditServiceController {
  constructor(
    private readonly trail: AuditTrail,
    private readonly gate: AccessGate,
  ) {}

  @Authenticated()
  async listAuditRecords(request: crew.ListAuditRecordsRequest, metadata?: Metadata): Promise<crew.ListAuditRecordsResponse> {
    const params = checked(AuditQueryParams, {
      org: given(request.org),
      user: given(request.user),
      action: given(request.action),
      since: given(request.since),
      until: given(request.until),
      page: request.page || undefined,
      pageSize: request.pageSize || undefined,
    });
    const page = await queryAudit(this.gate, this.trail, callerOf(metadata), params);
    return { items: page.items.map(toRecord), page: page.page, pageSize: page.pageSize, total: page.total, nextPage: page.nextPage ?? 0 };
  }
}

function toRecord(record: AuditRecord): crew.AuditRecord {
  return {
    id: record.id,
    service: record.service,
    at: record.at,
    actor: {
      kind: record.actor.kind,
      userId: record.actor.userId ?? '',
      username: record.actor.username ?? '',
      tokenId: record.actor.tokenId ?? '',
    },
    action: record.action,
    transport: record.transport,
    operation: record.operation,
    outcome: record.outcome,
    status: record.status,
    errorCode: record.errorCode ?? '',
    org: record.org ?? '',
    project: record.project ?? '',
    target: { id: record.target.id ?? '', params: { ...(record.target.params ?? {}) }, fields: { ...(record.target.fields ?? {}) } },
    sourceAddress: record.sourceAddress ?? '',
    traceId: record.traceId ?? '',
  };
}
