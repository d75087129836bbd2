import { Inject, Injectable } from '@nestjs/common';
import { ACCESS_CONTROL, DecisionCache, loadCrewAccessSettings, type AccessControl, type QuotaLimits } from '@co/auth';
import type { Workspace } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import { RegistryMetadata } from './registry-metadata';

type Limits = { org: QuotaLimits; project: QuotaLimits };

/**
 * The registry storage quota crew sets per organization and project
 * (`maxRegistryBytes`). Usage is the sum of the sizes of the distinct blobs linked to
 * the organization's (project's) repositories; a push that would take it past the
 * limit is refused with DENIED before its bytes are accepted.
 *
 * Crew's limits are reused for CO_AUTHZ_CACHE_SECONDS, like every other answer of
 * crew (a push asks at each of its requests): a changed quota applies within that
 * time. Usage is always counted afresh.
 */
@Injectable()
export class RegistryQuota {
  private readonly limits: DecisionCache<Limits>;

  constructor(
    @Inject(ACCESS_CONTROL) private readonly access: AccessControl,
    private readonly metadata: RegistryMetadata,
  ) {
    const settings = loadCrewAccessSettings(process.env);
    this.limits = new DecisionCache<Limits>(settings.cacheSeconds * 1000, settings.cacheMaxEntries);
  }

  /**
   * Throws DENIED when `incoming` more bytes would exceed a quota. Returns how many
   * bytes may still come (undefined: no limit), to stop a stream of unknown length.
   */
  async check(workspace: Workspace, incoming: number): Promise<number | undefined> {
    const limits = await this.limits.get(`${workspace.org}\n${workspace.project}`, () => this.access.quota(workspace.org, workspace.project));
    const places: { limit: number | undefined; label: string; project?: string }[] = [
      { limit: limits.org.maxRegistryBytes, label: `organization ${workspace.org}'s` },
      { limit: limits.project.maxRegistryBytes, label: `project ${workspace.org}/${workspace.project}'s`, project: workspace.project },
    ].filter((place) => place.limit !== undefined && place.limit !== null);
    // The places' usages are independent: counted at the same time.
    const used = await Promise.all(places.map((place) => this.metadata.usage(workspace.org, place.project)));
    let remaining: number | undefined;
    places.forEach((place, index) => {
      const limit = place.limit!;
      if (used[index] + incoming > limit) {
        throw new OciError(
          'DENIED',
          `${place.label} registry quota of ${limit} bytes would be exceeded: ${used[index]} bytes are used and this push adds ${incoming}; delete images or ask an administrator to raise the quota`,
          { quota: limit, used: used[index], incoming },
        );
      }
      const left = limit - used[index];
      remaining = remaining === undefined ? left : Math.min(remaining, left);
    });
    return remaining;
  }
}
