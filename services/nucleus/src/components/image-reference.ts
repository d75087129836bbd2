/** `spec.image` taken apart: `<host>/<workspace>/<repository>` and a tag or a digest. */
export interface ImageReference {
  host: string;
  workspace: string;
  /** The repository's name inside the workspace (may hold `/`). */
  repository: string;
  tag?: string;
  digest?: string;
}

// The distribution spec's grammar for names, tags and digests.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Why a reference cannot be read, as a sentence for `$.spec.image`. */
export class ImageReferenceError extends Error {}

/**
 * Reads `127.0.0.1:5000/team/tools/build:1.0` or `…@sha256:<hex>`. The first component
 * is a registry host only when it looks like one (has `.` or `:`, or is localhost), as
 * Docker reads references; without one the image would be Docker Hub's.
 */
export function parseImageReference(reference: string): ImageReference {
  let rest = reference.trim();
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ImageReferenceError(`${JSON.stringify(digest)} is not a digest: use sha256:<64 lowercase hex digits>`);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  if (!isHost || !HOST.test(first)) {
    throw new ImageReferenceError('the image must be named with its registry host, like 127.0.0.1:5000/<workspace>/<repository>:<tag>');
  }
  let path = rest.slice(slash + 1);
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageReferenceError(`${JSON.stringify(tag)} is not a tag: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }
  if (!tag && !digest) throw new ImageReferenceError('name a tag (…:1.0.0) or a digest (…@sha256:…): nucleus pins the version it finds, so it must know which one');
  const parts = path.split('/');
  if (parts.length < 2 || !REPOSITORY.test(path)) {
    throw new ImageReferenceError('after the host come the workspace and the repository, in lowercase letters, digits and separators, like team/tools/build');
  }
  return { host: first.toLowerCase(), workspace: parts[0], repository: parts.slice(1).join('/'), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** `<host>/<workspace>/<repository>@<digest>`: the reference that cannot move. */
export function pinnedReference(image: ImageReference, digest: string): string {
  return `${image.host}/${image.workspace}/${image.repository}@${digest}`;
}
