import { InvalidInputError } from '@co/common';
import { LABEL_NAME, type StoredLogLine } from '../storage/log-line';
import { nanos } from '../ingest/push-lines';

/** Limits of a query, documented in docs/logs.md. */
export const QUERY_LIMITS = { maxLimit: 5000, defaultLimit: 1000, regexChars: 256, containsChars: 1024 } as const;

export type Direction = 'forward' | 'backward';

/** What a query asks, parsed and checked. */
export interface LogFilter {
  org?: string;
  project?: string;
  run?: string;
  task?: string;
  stream?: 'stdout' | 'stderr';
  source?: string;
  labels: Record<string, string>;
  since?: bigint;
  until?: bigint;
  contains?: string;
  regex?: RegExp;
}

export interface PageRequest {
  direction: Direction;
  limit: number;
  cursor?: string;
}

/**
 * Nested quantifiers (`(a+)+`, `(\w*)*`) backtrack exponentially: refused, like patterns
 * longer than QUERY_LIMITS.regexChars. What is left runs on lines of at most the line limit.
 */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d)/;
/** Back-references can backtrack exponentially too. */
const BACK_REFERENCE = /\\[1-9]/;

/** Reads the filters shared by every query endpoint from the query string. */
export function parseFilter(query: Record<string, unknown>): LogFilter {
  const text = (name: string, max = 256): string | undefined => {
    const value = query[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' || value.length > max) throw new InvalidInputError('LOGS.INVALID_QUERY', `"${name}" must be given once, at most ${max} characters.`);
    return value;
  };
  const filter: LogFilter = { labels: {} };
  for (const name of ['org', 'project', 'run', 'task', 'source'] as const) filter[name] = text(name);
  const stream = text('stream');
  if (stream !== undefined) {
    if (stream !== 'stdout' && stream !== 'stderr') throw new InvalidInputError('LOGS.INVALID_QUERY', '"stream" must be stdout or stderr.');
    filter.stream = stream;
  }
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('label.')) continue;
    const name = key.slice('label.'.length);
    if (!LABEL_NAME.test(name) || typeof value !== 'string') throw new InvalidInputError('LOGS.INVALID_QUERY', `"${key}" must be label.<name>=<value> with a label name of letters, digits and _.`);
    filter.labels[name] = value;
  }
  filter.since = time(text('since', 40), 'since');
  filter.until = time(text('until', 40), 'until');
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new InvalidInputError('LOGS.INVALID_TIME', '"since" must not be after "until".');
  }
  filter.contains = text('contains', QUERY_LIMITS.containsChars);
  const regex = query.regex;
  if (regex !== undefined && regex !== '') {
    if (typeof regex !== 'string' || regex.length > QUERY_LIMITS.regexChars) {
      throw new InvalidInputError('LOGS.INVALID_REGEX', `"regex" must be one pattern of at most ${QUERY_LIMITS.regexChars} characters.`);
    }
    if (NESTED_QUANTIFIER.test(regex) || BACK_REFERENCE.test(regex)) {
      throw new InvalidInputError('LOGS.INVALID_REGEX', '"regex" may not nest quantifiers (like (a+)+) or use back-references: they can take exponential time. Rewrite the pattern without them.');
    }
    try {
      filter.regex = new RegExp(regex, 'u');
    } catch (error) {
      throw new InvalidInputError('LOGS.INVALID_REGEX', `"regex" is not a valid JavaScript regular expression: ${(error as Error).message}.`);
    }
  }
  return filter;
}

export function parsePage(query: Record<string, unknown>): PageRequest {
  const direction = query.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'backward') throw new InvalidInputError('LOGS.INVALID_QUERY', '"direction" must be forward or backward.');
  let limit: number = QUERY_LIMITS.defaultLimit;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (typeof query.limit !== 'string' || !/^\d+$/.test(query.limit) || limit < 1 || limit > QUERY_LIMITS.maxLimit) {
      throw new InvalidInputError('LOGS.INVALID_LIMIT', `"limit" must be a whole number from 1 to ${QUERY_LIMITS.maxLimit}.`);
    }
  }
  const cursor = typeof query.cursor === 'string' && query.cursor ? query.cursor : undefined;
  return { direction, limit, cursor };
}

function time(value: string | undefined, name: string): bigint | undefined {
  if (value === undefined) return undefined;
  try {
    return nanos(value, name);
  } catch {
    throw new InvalidInputError('LOGS.INVALID_TIME', `"${name}" must be unix nanoseconds or an RFC 3339 time like 2026-03-01T12:00:00Z.`);
  }
}

/** Whether a line passes the filters a frame's index row cannot decide. */
export function lineMatches(line: StoredLogLine, filter: LogFilter): boolean {
  const labels = line.labels;
  if (filter.org !== undefined && labels.org !== filter.org) return false;
  if (filter.project !== undefined && labels.project !== filter.project) return false;
  if (filter.run !== undefined && labels.run !== filter.run) return false;
  if (filter.task !== undefined && labels.task !== filter.task) return false;
  if (filter.stream !== undefined && labels.stream !== filter.stream) return false;
  if (filter.source !== undefined && labels.source !== filter.source) return false;
  for (const [name, value] of Object.entries(filter.labels)) if (labels[name] !== value) return false;
  if (filter.since !== undefined || filter.until !== undefined) {
    const ts = BigInt(line.ts);
    if (filter.since !== undefined && ts < filter.since) return false;
    if (filter.until !== undefined && ts > filter.until) return false;
  }
  if (filter.contains !== undefined && !line.text.includes(filter.contains)) return false;
  if (filter.regex !== undefined && !filter.regex.test(line.text)) return false;
  return true;
}
