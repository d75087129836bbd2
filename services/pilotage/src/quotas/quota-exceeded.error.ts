import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError } from '@co/common';

export type QuotaName = 'maxWorkflows' | 'maxConcurrentRuns';

/**
 * 403 QUOTA.EXCEEDED (gRPC RESOURCE_EXHAUSTED): the caller may do this in general, but
 * the organization or project has used what its quota allows. 403, as Kubernetes
 * answers an exceeded ResourceQuota: retrying does not help until something is deleted
 * or finishes, or the limit is raised (429 would invite blind retries; 409 names a
 * conflict with the resource's own state).
 */
export class QuotaExceededError extends DomainError {
  constructor(details: { quota: QuotaName; scope: 'organization' | 'project'; org: string; project: string; limit: number; usage: number }) {
    const place = details.scope === 'organization' ? `organization ${details.org}` : `project ${details.org}/${details.project}`;
    const what =
      details.quota === 'maxWorkflows'
        ? `at most ${details.limit} workflow${details.limit === 1 ? '' : 's'} (maxWorkflows); delete one`
        : `at most ${details.limit} concurrent run${details.limit === 1 ? '' : 's'} (maxConcurrentRuns); wait for a run to finish or stop one`;
    super('QUOTA.EXCEEDED', `${place} allows ${what}, or ask a platform administrator to raise it.`, 403, GrpcStatus.RESOURCE_EXHAUSTED, details);
  }
}
