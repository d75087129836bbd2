import type { ComponentManifest, ComponentVisibility } from './component-manifest';

/**
 * Component events (stream `component-<namespace>.<name>`, subject
 * `<prefix>.nucleus.component.<EventType>`). One stream holds every version of a
 * component, so publishing a version twice, even at the same moment, cannot succeed
 * twice: the second append finds the stream moved on and reads the version taken.
 */
export interface ComponentPublished {
  namespace: string;
  name: string;
  version: string;
  /** The project of the dockyard workspace that holds the image. */
  project: string;
  /** The normalized manifest (defaults filled in). */
  manifest: ComponentManifest;
  /** The digest `spec.image` named when the version was published. */
  imageDigest: string;
  /** `<host>/<workspace>/<repository>@<digest>`: what runs, whatever the tag names later. */
  pinnedImage: string;
  visibility: ComponentVisibility;
  /** Username of the publisher. */
  publishedBy: string;
  /** User id of the publisher. */
  publishedById?: string;
}

export interface ComponentDeprecated {
  namespace: string;
  name: string;
  version: string;
  message: string;
}

export interface ComponentYanked {
  namespace: string;
  name: string;
  version: string;
  reason: string;
}

export const COMPONENT_EVENT_TYPES = ['ComponentPublished', 'ComponentDeprecated', 'ComponentYanked'] as const;

export function componentStream(namespace: string, name: string): string {
  return `component-${namespace}.${name}`;
}
