/**
 * Binary artifact events (stream `artifact-<workspace>`, subject
 * `<prefix>.dockyard.artifact.<EventType>`). Triggers start workflows on them.
 */

/** A file was stored under `/binary/v1/<workspace>/<repository>/binary/<tag>/<file>` (or replaced one). */
export interface ArtifactUploaded {
  workspace: string;
  org: string;
  project: string;
  repository: string;
  tag: string;
  file: string;
  /** `sha256:<hex>` (or the sha512 digest the upload named). */
  digest: string;
  size: number;
  /** True when the file existed and was replaced. */
  overwritten: boolean;
  uploadedBy: string;
}

export interface ArtifactDeleted {
  workspace: string;
  org: string;
  project: string;
  repository: string;
  tag: string;
  file: string;
  digest: string;
  deletedBy: string;
}

export function artifactStream(workspace: string): string {
  return `artifact-${workspace}`;
}
