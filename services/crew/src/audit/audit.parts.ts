import type { CrewParts } from '../crew-parts';
import { CreateAudit1764000200000 } from '../migrations/1764000200000-create-audit';
import { AuditController } from './audit.controller';
import { AuditGrpcController } from './audit.grpc.controller';
import { AUDIT_SETTINGS, loadAuditSettings } from './audit-settings';
import { AuditTrail } from './audit-trail';

/** Audit: every service's audit records, stored and queried. */
export const auditParts: CrewParts = {
  controllers: [AuditController, AuditGrpcController],
  providers: [AuditTrail, { provide: AUDIT_SETTINGS, useFactory: () => loadAuditSettings(process.env) }],
  migrations: [CreateAudit1764000200000],
};
