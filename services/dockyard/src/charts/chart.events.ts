/**
 * Chart events (stream `chart-<workspace>-<name>`, subject
 * `<prefix>.dockyard.chart.<EventType>`). Triggers start workflows on them.
 */

/** A chart version was uploaded to a workspace's chart repository (or overwritten with `?force`). */
export interface ChartPublished {
  workspace: string;
  org: string;
  project: string;
  name: string;
  version: string;
  /** `sha256:<hex>` of the .tgz. */
  digest: string;
  size: number;
  /** Whether a provenance file (.prov) came with it. */
  provenance: boolean;
  /** True when the version existed and `?force` replaced it. */
  overwritten: boolean;
  publishedBy: string;
}

/** A chart version was deleted from a workspace's chart repository. */
export interface ChartDeleted {
  workspace: string;
  org: string;
  project: string;
  name: string;
  version: string;
  digest: string;
  deletedBy: string;
}

export function chartStream(workspace: string, name: string): string {
  return `chart-${workspace}-${name}`;
}
