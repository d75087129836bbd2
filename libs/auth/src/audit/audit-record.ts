/**
 * One audit record: who did what to which resource, when, from where, and how it
 * ended. Published by every service after each mutating call, stored by crew. It
 * never holds a request body, a password or a token.
 */
export interface AuditRecord {
  /** Unique; also the bus message id. */
  id: string;
  /** The service that served the call. */
  service: string;
  /** When the call ended (ISO 8601). */
  at: string;
  actor: AuditActor;
  /** The `@Authorize` action when the handler declares one, else `<METHOD> <route pattern>`. */
  action: string;
  transport: 'http' | 'grpc';
  /** `POST /api/v1/orgs/:org/projects`, or `containerops.pilotage.v1.Workflows/CreateWorkflow`. */
  operation: string;
  outcome: 'success' | 'failure';
  /** HTTP status (gRPC calls: the HTTP status their error maps to, 200 on success). */
  status: number;
  /** The stable error code of a failure, when known (`AUTH.FORBIDDEN`). */
  errorCode?: string;
  /** Organization and project the call applied to, when known. */
  org?: string;
  project?: string;
  target: AuditTarget;
  /** TCP peer of the call (HTTP socket, gRPC peer). */
  sourceAddress?: string;
  traceId?: string;
}

export interface AuditActor {
  kind: 'user' | 'anonymous';
  userId?: string;
  username?: string;
  /** Set when the caller used a personal API token. */
  tokenId?: string;
}

export interface AuditTarget {
  /** The resource id the call named (route parameter or request field `id`). */
  id?: string;
  /** Route parameters (identifiers only: slugs, ids). */
  params?: Record<string, string>;
  /** The identifying fields of the request body (`name`, `username`, `role`, `project`); nothing else of it. */
  fields?: Record<string, string>;
}

/** Event type and bus subject: `<prefix>.<service>.audit.Recorded`. */
export const AUDIT_EVENT_TYPE = 'Recorded';
export const AUDIT_AGGREGATE = 'audit';

export function auditSubject(prefix: string, service: string): string {
  return `${prefix}.${service}.${AUDIT_AGGREGATE}.${AUDIT_EVENT_TYPE}`;
}

/** What a consumer subscribes to for one service's audit records. */
export function auditSubjects(prefix: string, service: string): string {
  return `${prefix}.${service}.${AUDIT_AGGREGATE}.>`;
}
