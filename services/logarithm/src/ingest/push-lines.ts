import { INDEXED_LABELS, LABEL_NAME, LINE_LIMITS, SLUG, splitTask, type IncomingLogLine, type LogLabels } from '../storage/log-line';
import { invalidPush } from './push-errors';

/** Limits of one push request besides its size. */
export const PUSH_LIMITS = { streams: 1000 } as const;

const NANOS = /^\d{1,19}$/;

/**
 * The lines of a push: Loki's `{"streams":[{"stream":{labels},"values":[["<unix ns>","line"]]}]}`,
 * or `{"lines":[{"ts","labels","text"}]}` (the shape of the NATS subject). Every stream
 * names its `org` and `project`; `source` defaults to `push`.
 */
export function pushedLines(body: unknown): IncomingLogLine[] {
  if (!isObject(body)) throw invalidPush('body', 'must be a JSON object with "streams" (Loki) or "lines"');
  if (Array.isArray(body.streams)) return lokiLines(body.streams);
  if (Array.isArray(body.lines)) return plainLines(body.lines, 'lines', {});
  throw invalidPush('body', 'must carry "streams" (Loki) or "lines"');
}

function lokiLines(streams: unknown[]): IncomingLogLine[] {
  if (streams.length > PUSH_LIMITS.streams) throw invalidPush('streams', `at most ${PUSH_LIMITS.streams} streams per push, not ${streams.length}`);
  const lines: IncomingLogLine[] = [];
  streams.forEach((stream, index) => {
    const where = `streams[${index}]`;
    if (!isObject(stream)) throw invalidPush(where, 'must be an object with "stream" and "values"');
    const labels = checkLabels(stream.stream, `${where}.stream`, 'push');
    if (!Array.isArray(stream.values)) throw invalidPush(`${where}.values`, 'must be an array of ["<unix ns>", "line"]');
    stream.values.forEach((value, position) => {
      const at = `${where}.values[${position}]`;
      if (!Array.isArray(value) || value.length < 2 || typeof value[1] !== 'string') throw invalidPush(at, 'must be ["<unix ns>", "line"]');
      lines.push({ ts: nanos(value[0], `${at}[0]`), labels, text: value[1] });
    });
  });
  return lines;
}

/** Lines that each carry their labels; `fixed` labels (from a subject) override theirs. */
export function plainLines(items: unknown[], where: string, fixed: Partial<LogLabels>, defaultSource = 'push'): IncomingLogLine[] {
  return items.map((item, index) => {
    const at = `${where}[${index}]`;
    if (!isObject(item) || typeof item.text !== 'string') throw invalidPush(at, 'must be {"ts", "labels", "text"} with a string text');
    const labels = checkLabels({ ...(isObject(item.labels) ? item.labels : {}), ...fixed }, `${at}.labels`, defaultSource);
    return { ts: nanos(item.ts, `${at}.ts`), labels, text: item.text };
  });
}

/** Unix nanoseconds as a decimal string (or a safe integer), or an RFC 3339 time. */
export function nanos(value: unknown, where: string): bigint {
  if (typeof value === 'string' && NANOS.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string') {
    const parsed = parseRfc3339(value);
    if (parsed !== undefined) return parsed;
  }
  throw invalidPush(where, 'must be unix nanoseconds as a decimal string ("1735689600000000000") or an RFC 3339 time');
}

/** RFC 3339 with up to nanosecond fractions, to unix nanoseconds. */
export function parseRfc3339(value: string): bigint | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  if (!match) return undefined;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

/** Labels of a stream: named like Prometheus labels, short, with org and project slugs. */
export function checkLabels(value: unknown, where: string, defaultSource: string): LogLabels {
  if (!isObject(value)) throw invalidPush(where, 'must be an object of label names to string values');
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (entries.length > LINE_LIMITS.labelsPerLine) throw invalidPush(where, `at most ${LINE_LIMITS.labelsPerLine} labels, not ${entries.length}`);
  const labels: Record<string, string> = {};
  for (const [name, raw] of entries) {
    if (!LABEL_NAME.test(name) || name.length > LINE_LIMITS.labelNameChars) {
      throw invalidPush(`${where}.${name}`, `label names are letters, digits and _ (not starting with a digit), at most ${LINE_LIMITS.labelNameChars} characters`);
    }
    const text = typeof raw === 'number' ? String(raw) : raw;
    if (typeof text !== 'string' || text.length > LINE_LIMITS.labelValueChars) {
      throw invalidPush(`${where}.${name}`, `label values are strings of at most ${LINE_LIMITS.labelValueChars} characters`);
    }
    labels[name] = text;
  }
  for (const name of INDEXED_LABELS) {
    // Stored in indexed columns: a longer value would fail the whole group commit, other clients' lines included.
    if ((labels[name]?.length ?? 0) > LINE_LIMITS.indexedLabelChars) {
      throw invalidPush(`${where}.${name}`, `the ${INDEXED_LABELS.join(', ')} labels are at most ${LINE_LIMITS.indexedLabelChars} characters; shorten the value`);
    }
  }
  for (const name of ['org', 'project'] as const) {
    if (!labels[name] || !SLUG.test(labels[name])) throw invalidPush(`${where}.${name}`, `every stream names its ${name === 'org' ? 'organization' : 'project'} by its slug in the "${name}" label`);
  }
  if (labels.stream !== undefined && labels.stream !== 'stdout' && labels.stream !== 'stderr') throw invalidPush(`${where}.stream`, 'must be stdout or stderr');
  labels.source ??= defaultSource;
  if (labels.task && labels.stage === undefined && labels.action === undefined) Object.assign(labels, splitTask(labels.task));
  return labels as LogLabels;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
