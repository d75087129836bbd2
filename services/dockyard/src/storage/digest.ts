/** Digest algorithms dockyard verifies: the two the OCI image spec registers. */
export const DIGEST_ALGORITHMS = ['sha256', 'sha512'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex. */
  encoded: string;
}

/**
 * Reads `<algorithm>:<hex>` as the OCI image spec defines it for the registered
 * algorithms; anything else (another algorithm, uppercase hex, a wrong length, path
 * characters) is undefined, so a digest can always be used as a file name.
 */
export function parseDigest(value: unknown): ParsedDigest | undefined {
  if (typeof value !== 'string') return undefined;
  const colon = value.indexOf(':');
  if (colon < 0) return undefined;
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (!(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)) return undefined;
  const length = ENCODED_LENGTH[algorithm as DigestAlgorithm];
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) return undefined;
  return { algorithm: algorithm as DigestAlgorithm, encoded };
}

export function isDigest(value: unknown): value is string {
  return parseDigest(value) !== undefined;
}

/**
 * The spec's digest grammar, which admits algorithms dockyard does not verify: such a
 * digest is well-formed but unsupported (`DIGEST_INVALID` with that reason), not a bad name.
 */
export function looksLikeDigest(value: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(value);
}
