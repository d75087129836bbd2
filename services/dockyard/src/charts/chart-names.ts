import * as semver from 'semver';

/**
 * Chart names: Helm's characters (letters, digits, `.`, `_`, `-`; Helm refuses path
 * separators) in lowercase as Helm's best practices ask — uppercase would make two
 * names of one chart in a case-insensitive index — starting and ending with a letter
 * or a digit, so that `.`, `..` and hidden names are never chart names.
 */
const CHART_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
export const MAX_CHART_NAME = 100;
/** Longest version kept; a semantic version is rarely a tenth of it. */
export const MAX_CHART_VERSION = 128;

export function isChartName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CHART_NAME && CHART_NAME.test(value);
}

/** A semantic version 2 (an optional leading `v` as Helm allows), as written in Chart.yaml. */
export function isChartVersion(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CHART_VERSION && /^v?[0-9A-Za-z.+-]+$/.test(value) && semver.valid(value) !== null;
}

/** Newest first, by semantic version precedence (build metadata last as a tie-break, for a stable order). */
export function newestFirst(a: string, b: string): number {
  return semver.rcompare(a, b) || (a < b ? 1 : a > b ? -1 : 0);
}

/** `<name>-<version>.tgz` as index.yaml names packages. */
export function packageFileName(name: string, version: string): string {
  return `${name}-${version}.tgz`;
}

/**
 * The (name, version) pairs a package file name may stand for: a name may hold dashes
 * and a version too (`app-1-2.0.0-rc.1.tgz`), so every split that gives a valid name and
 * version is a candidate, the longest name first.
 */
export function packageCandidates(file: string, suffix: '.tgz' | '.tgz.prov'): { name: string; version: string }[] {
  if (!file.endsWith(suffix)) return [];
  const stem = file.slice(0, -suffix.length);
  const candidates: { name: string; version: string }[] = [];
  for (let at = stem.lastIndexOf('-'); at > 0; at = stem.lastIndexOf('-', at - 1)) {
    const name = stem.slice(0, at);
    const version = stem.slice(at + 1);
    if (isChartName(name) && isChartVersion(version)) candidates.push({ name, version });
  }
  return candidates;
}
