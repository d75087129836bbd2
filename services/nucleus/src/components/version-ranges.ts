import * as semver from 'semver';

export type RangeResolution =
  | { ok: true; version: string; range: string }
  | { ok: false; reason: 'invalid-range' }
  | { ok: false; reason: 'no-match'; yankedMatches: string[] };

/** Longest range accepted: ranges are typed by people, not generated. */
export const MAX_RANGE_LENGTH = 256;

/**
 * The highest version in `versions` that satisfies `range` and is not yanked. Ranges
 * are npm's (`^1.2`, `~1.2.3`, `1.x`, `>=1.0.0 <2`, `1.2.3`); an empty range or
 * `latest` means `*`. Pre-releases take part only when the range itself names a
 * pre-release of the same MAJOR.MINOR.PATCH (semver's includePrerelease=false), so
 * `^2.0.0-rc.1` finds `2.0.0-rc.2` but `^2` does not.
 */
export function resolveRange(versions: { version: string; yanked: boolean }[], range: string): RangeResolution {
  const wanted = range.trim() === '' || range.trim() === 'latest' ? '*' : range.trim();
  if (wanted.length > MAX_RANGE_LENGTH || semver.validRange(wanted) === null) return { ok: false, reason: 'invalid-range' };
  const live = versions.filter((entry) => !entry.yanked).map((entry) => entry.version);
  const best = semver.maxSatisfying(live, wanted);
  if (best) return { ok: true, version: best, range: wanted };
  const yankedMatches = versions
    .filter((entry) => entry.yanked && semver.satisfies(entry.version, wanted))
    .map((entry) => entry.version)
    .sort(semver.rcompare);
  return { ok: false, reason: 'no-match', yankedMatches };
}
