/**
 * One log line as logarithm keeps it. Labels name where a line comes from; `org` and
 * `project` are the tenant and decide who may read it.
 */
export interface LogLabels {
  org: string;
  project: string;
  workflow?: string;
  run?: string;
  stage?: string;
  action?: string;
  /** `<stage>.<action>` */
  task?: string;
  attempt?: string;
  stream?: 'stdout' | 'stderr';
  /** What produced the line: container, engine, build, service, push... */
  source?: string;
  /** Free labels from a push (limited: see LINE_LIMITS). */
  [label: string]: string | undefined;
}

export interface IncomingLogLine {
  /** Unix time in nanoseconds. */
  ts: bigint;
  labels: LogLabels;
  text: string;
  /**
   * Where the line sits in a log that may be sent again (a task log replayed after an
   * engine restart): a line whose (key, position) was stored already is dropped.
   */
  origin?: { key: string; position: number };
}

export interface StoredLogLine {
  /** Decimal: arrival order in this logarithm, strictly increasing, never reused. */
  seq: string;
  /** Decimal unix nanoseconds. */
  ts: string;
  labels: LogLabels;
  /** Already masked and cut at the per-line limit. */
  text: string;
  /** The text was cut at the per-line limit and ends with ' [truncated]'. */
  truncated?: true;
}

export const TRUNCATED_MARK = ' [truncated]';

/** Limits every ingest path applies before a line reaches the store. */
export const LINE_LIMITS = {
  labelsPerLine: 15,
  labelNameChars: 64,
  labelValueChars: 256,
  /** Labels kept in indexed columns (INDEXED_LABELS): 191 characters fit an InnoDB index in utf8mb4. */
  indexedLabelChars: 191,
} as const;

/** Labels the index stores in columns of their own, limited to LINE_LIMITS.indexedLabelChars. */
export const INDEXED_LABELS = ['run', 'task', 'source'] as const;

export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Organization and project slugs as crew names them. */
export const SLUG = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A line as the read API answers it. */
export interface LogLineView {
  seq: string;
  ts: string;
  /** RFC 3339 with nanoseconds. */
  time: string;
  labels: LogLabels;
  text: string;
  truncated?: true;
}

/** The one shape of a line in answers: queries, downloads' pages and live tails. */
export function lineView(line: StoredLogLine): LogLineView {
  const view: LogLineView = { seq: line.seq, ts: line.ts, time: isoTime(line.ts), labels: line.labels, text: line.text };
  if (line.truncated) view.truncated = true;
  return view;
}

/** A task `<stage>.<action>` split at its first dot; undefined when either part is missing. */
export function splitTask(task: string): { stage: string; action: string } | undefined {
  const dot = task.indexOf('.');
  return dot > 0 && dot < task.length - 1 ? { stage: task.slice(0, dot), action: task.slice(dot + 1) } : undefined;
}

/** pilotage's project name `org/project`, both slugs; undefined for anything else. */
export function parseProject(value: unknown): { org: string; project: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const slash = value.indexOf('/');
  const org = value.slice(0, slash);
  const project = value.slice(slash + 1);
  return slash > 0 && SLUG.test(org) && SLUG.test(project) ? { org, project } : undefined;
}

/** `2026-03-01T12:00:00.123456789Z` from unix nanoseconds. */
export function isoTime(ts: string | bigint): string {
  const ns = BigInt(ts);
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  const fraction = (ns % 1_000_000_000n + 1_000_000_000n) % 1_000_000_000n;
  return `${iso.slice(0, 19)}.${fraction.toString().padStart(9, '0')}Z`;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes (the mark included), at a character boundary. */
export function limitText(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  const room = Math.max(0, maxBytes - TRUNCATED_MARK.length);
  let kept = Buffer.from(text).subarray(0, room).toString('utf8');
  // A multi-byte character cut in two decodes as U+FFFD: drop it.
  if (kept.endsWith('\uFFFD') && !text.startsWith(kept)) kept = kept.slice(0, -1);
  return { text: `${kept}${TRUNCATED_MARK}`, truncated: true };
}
