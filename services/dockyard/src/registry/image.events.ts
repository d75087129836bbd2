import { createHash } from 'node:crypto';

/**
 * A manifest was stored in a repository (by the /v2 API or an image import), with the
 * tag it was pushed under. Published on `<prefix>.dockyard.image.ImagePushed`.
 */
export interface ImagePushed {
  /** `<workspace>/<repo>[/...]`. */
  repository: string;
  workspace: string;
  org: string;
  project: string;
  /** The tag pushed, or null for a push by digest. */
  tag: string | null;
  digest: string;
  /** The manifest's media type (the Content-Type it was pushed with). */
  mediaType: string;
  /** `artifactType` of the manifest, else its config's media type (images), else null. */
  artifactType: string | null;
  /** Bytes of the manifest itself. */
  size: number;
  /** Manifest plus the blobs (or child manifests) it references. */
  totalSize: number;
  /** Digest of the `subject` manifest (referrers), or null. */
  subject: string | null;
  /** Username (or token subject) of the pusher; `anonymous` never pushes. */
  pushedBy: string;
}

/**
 * A manifest was deleted with all its tags (`manifestDeleted: true`), or one tag was
 * removed and the manifest kept (`manifestDeleted: false`, `tags` holds that tag).
 */
export interface ImageDeleted {
  repository: string;
  workspace: string;
  org: string;
  project: string;
  digest: string;
  tags: string[];
  manifestDeleted: boolean;
  deletedBy: string;
}

/** Stream of a repository's image events: `image-<first 32 hex of sha256(repository)>`. */
export function imageStream(repository: string): string {
  return `image-${createHash('sha256').update(repository).digest('hex').slice(0, 32)}`;
}
