import { Injectable } from '@nestjs/common';

/** What replaces a secret value in a line. */
export const MASK = '***';

interface RunMaskSet {
  org: string;
  /** Every value (and every line of a multi-line value), longest first, as one alternation. */
  pattern: RegExp;
}

/**
 * Replaces the secret values registered for a run by `***` in each of its lines, before
 * they are stored (and so before they are tailed, queried or downloaded). Only whole
 * occurrences are replaced; where two values overlap, the longer wins. A run's values
 * apply only to lines of the organization that registered them, so that nobody can
 * learn whether a line of theirs contains another organization's secret.
 *
 * `mask` is called for every line ingested: a line of a run without masks costs a map
 * lookup.
 */
@Injectable()
export class LogMasker {
  private readonly runs = new Map<string, RunMaskSet>();

  mask(org: string, run: string | undefined, text: string): string {
    if (run === undefined || this.runs.size === 0) return text;
    const masks = this.runs.get(run);
    if (!masks || masks.org !== org) return text;
    return text.replace(masks.pattern, MASK);
  }

  /** Sets the values of a run (replacing what it had). */
  set(run: string, org: string, values: string[]): void {
    const patterns = [...new Set(values.flatMap(patternsOf))].sort((a, b) => b.length - a.length);
    if (patterns.length === 0) {
      this.runs.delete(run);
      return;
    }
    this.runs.set(run, { org, pattern: new RegExp(patterns.map(escapeRegExp).join('|'), 'g') });
  }

  has(run: string): boolean {
    return this.runs.has(run);
  }

  drop(run: string): void {
    this.runs.delete(run);
  }

  /** Runs that have masks, for reconciling with the database. */
  maskedRuns(): string[] {
    return [...this.runs.keys()];
  }
}

/**
 * A value, and each line of a multi-line value (a key file, say) that is long enough
 * to be masked on its own: log lines are split at line breaks, so the value as a whole
 * would never be found in one.
 */
function patternsOf(value: string): string[] {
  const lines = value.split(/\r?\n/).filter((line) => line.trim().length >= MIN_MASK_LENGTH);
  return lines.length > 1 ? [value, ...lines] : [value];
}

/** The shortest value masked: shorter ones would hide ordinary text. */
export const MIN_MASK_LENGTH = 4;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
