import { Inject, Injectable } from '@nestjs/common';
import { ACCESS_CONTROL, type AccessControl } from '@co/auth';
import type { Workspace } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import { RegistryMetadata } from './registry-metadata';

/**
 * The registry storage quota crew sets per organization and project
 * (`maxRegistryBytes`). Usage is the sum of the sizes of the distinct blobs linked to
 * the organization's (project's) repositories; a push that would take it past the
 * limit is refused with DENIED before its bytes are accepted.
 */
@Injectable()
export class RegistryQuota {
  constructor(
    @Inject(ACCESS_CONTROL) private readonly access: AccessControl,
    private readonly metadata: RegistryMetadata,
  ) {}

  /**
   * Throws DENIED when `incoming` more bytes would exceed a quota. Returns how many
   * bytes may still come (undefined: no limit), to stop a stream of unknown length.
   */
  async check(workspace: Workspace, incoming: number): Promise<number | undefined> {
    const limits = await this.access.quota(workspace.org, workspace.project);
    let remaining: number | undefined;
    const places: { limit: number | undefined; label: string; project?: string }[] = [
      { limit: limits.org.maxRegistryBytes, label: `organization ${workspace.org}'s` },
      { limit: limits.project.maxRegistryBytes, label: `project ${workspace.org}/${workspace.project}'s`, project: workspace.project },
    ];
    for (const place of places) {
      if (place.limit === undefined || place.limit === null) continue;
      const used = await this.metadata.usage(workspace.org, place.project);
      if (used + incoming > place.limit) {
        throw new OciError(
          'DENIED',
          `${place.label} registry quota of ${place.limit} bytes would be exceeded: ${used} bytes are used and this push adds ${incoming}; delete images or ask an administrator to raise the quota`,
          { quota: place.limit, used, incoming },
        );
      }
      const left = place.limit - used;
      remaining = remaining === undefined ? left : Math.min(remaining, left);
    }
    return remaining;
  }
}
