import { isDigest, looksLikeDigest } from '../storage/digest';
import { OciError } from './oci-errors';

/** One path component of a repository name (OCI Distribution Spec, "Pulling manifests"). */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * The longest repository name accepted: names are keys of the metadata tables, and
 * 191 characters is what an indexed utf8mb4 column holds on MySQL/MariaDB.
 */
export const MAX_REPOSITORY_NAME = 191;

export function isRepositoryName(value: string): boolean {
  return value.length <= MAX_REPOSITORY_NAME && NAME.test(value) && value.includes('/');
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** Throws NAME_INVALID unless `value` is `<workspace>/<repo>[/...]` in the spec's grammar. */
export function requireRepositoryName(value: string): string {
  if (!isRepositoryName(value)) {
    throw new OciError(
      'NAME_INVALID',
      `"${printable(value)}" is not a valid repository name: it must be <workspace>/<repository>[/...], each part lowercase letters and digits separated by ".", "_", "__" or "-", at most ${MAX_REPOSITORY_NAME} characters`,
      { name: printable(value) },
    );
  }
  return value;
}

/** The workspace a repository belongs to: its first path component. */
export function workspaceOf(repository: string): string {
  return repository.slice(0, repository.indexOf('/'));
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

/** A manifest reference: a tag or a digest (sha256/sha512). */
export function parseReference(value: string): Reference {
  if (value.includes(':')) {
    if (isDigest(value)) return { kind: 'digest', digest: value };
    throw new OciError(
      'DIGEST_INVALID',
      looksLikeDigest(value)
        ? `digest ${printable(value)} uses an algorithm this registry does not support: use sha256 or sha512`
        : `"${printable(value)}" is not a valid digest: it must be sha256:<64 hex> or sha512:<128 hex>`,
      { digest: printable(value) },
    );
  }
  if (!isTag(value)) {
    throw new OciError(
      'MANIFEST_INVALID',
      `"${printable(value)}" is neither a tag nor a digest: a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"`,
      { reference: printable(value) },
    );
  }
  return { kind: 'tag', tag: value };
}

/** Throws DIGEST_INVALID unless `value` is a digest this registry verifies. */
export function requireDigest(value: unknown, what = 'digest'): string {
  if (typeof value === 'string' && isDigest(value)) return value;
  const shown = typeof value === 'string' ? printable(value) : String(value);
  throw new OciError('DIGEST_INVALID', `the ${what} "${shown}" is not a valid digest: it must be sha256:<64 lowercase hex> or sha512:<128 lowercase hex>`, {
    digest: shown,
  });
}

/** A value safe to repeat in a message: short, without control characters. */
export function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

export type RegistryRoute =
  | { kind: 'base' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'unknown' };

const ROUTES: { pattern: RegExp; route: (match: RegExpExecArray) => RegistryRoute }[] = [
  { pattern: /^(.+)\/manifests\/([^/]+)$/, route: (m) => ({ kind: 'manifest', name: m[1], reference: m[2] }) },
  { pattern: /^(.+)\/blobs\/uploads\/?$/, route: (m) => ({ kind: 'uploads', name: m[1] }) },
  { pattern: /^(.+)\/blobs\/uploads\/([^/]+)$/, route: (m) => ({ kind: 'upload', name: m[1], id: m[2] }) },
  { pattern: /^(.+)\/blobs\/([^/]+)$/, route: (m) => ({ kind: 'blob', name: m[1], digest: m[2] }) },
  { pattern: /^(.+)\/tags\/list$/, route: (m) => ({ kind: 'tags', name: m[1] }) },
  { pattern: /^(.+)\/referrers\/([^/]+)$/, route: (m) => ({ kind: 'referrers', name: m[1], digest: m[2] }) },
];

/**
 * Reads the path of a /v2 request (the raw path, before any decoding: a name with a
 * percent sign, a dot segment or an empty component is refused, never normalized into
 * another repository).
 */
export function parseRegistryPath(rawPath: string): RegistryRoute {
  if (rawPath === '/v2' || rawPath === '/v2/') return { kind: 'base' };
  if (!rawPath.startsWith('/v2/')) return { kind: 'unknown' };
  const rest = rawPath.slice('/v2/'.length);
  for (const { pattern, route } of ROUTES) {
    const match = pattern.exec(rest);
    if (match) {
      const parsed = route(match);
      if ('name' in parsed) requireRepositoryName(parsed.name);
      return parsed;
    }
  }
  return { kind: 'unknown' };
}
