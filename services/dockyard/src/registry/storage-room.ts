import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError } from '@co/common';
import type { Workspace } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import type { RegistryQuota } from './registry-quota';

/** A chart or artifact upload refused by the organization's or project's registry quota. */
export class StorageQuotaError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('QUOTA.EXCEEDED', message, 403, GrpcStatus.RESOURCE_EXHAUSTED, details);
  }
}

/**
 * How many bytes a chart or artifact upload to `workspace` may still bring under the
 * registry quota (undefined: no limit); the quota counts images, charts and artifacts
 * alike. A quota already used up answers 403 QUOTA.EXCEEDED naming it.
 */
export async function storageRoom(quota: RegistryQuota, workspace: Workspace): Promise<number | undefined> {
  try {
    const room = await quota.check(workspace, 0);
    if (room === 0) throw quotaCut(workspace, 0);
    return room;
  } catch (error) {
    if (error instanceof OciError && error.code === 'DENIED') throw new StorageQuotaError(error.message, error.detail);
    throw error;
  }
}

/** The error for an upload cut at `room` bytes by the quota. */
export function quotaCut(workspace: Workspace, room: number): StorageQuotaError {
  return new StorageQuotaError(
    `The registry quota of ${workspace.org}/${workspace.project} leaves ${room} bytes and this upload is larger; nothing was stored. Delete images, charts or artifacts, or ask an administrator to raise the quota.`,
    { remaining: room },
  );
}
