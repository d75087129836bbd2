/**
 * Durations, CPU and memory quantities as workflows write them. The patterns are shared
 * with the JSON Schema so that editors and the validator accept exactly the same strings.
 */

/** Thrown for a value that is not a valid duration, CPU or memory quantity. */
export class QuantitySyntaxError extends Error {
  constructor(
    readonly kind: 'duration' | 'cpu' | 'memory',
    readonly value: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'QuantitySyntaxError';
  }
}

const DECIMAL = '\\d+(?:\\.\\d+)?';
/** Units from largest to smallest, each at most once: `14d`, `1h30m`, `1m30s500ms`. */
export const DURATION_PATTERN = `^(?=\\d)(?:(${DECIMAL})d)?(?:(${DECIMAL})h)?(?:(${DECIMAL})m(?!s))?(?:(${DECIMAL})s)?(?:(${DECIMAL})ms)?$`;
/** Cores (`2`, `0.5`) or millicores (`500m`). */
export const CPU_PATTERN = `^(?:\\d+m|${DECIMAL})$`;
/** Bytes, or a decimal (`k`/`K`, `M`, `G`, `T`, `P`, `E`) or binary (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`) multiple. */
export const MEMORY_PATTERN = `^(${DECIMAL})([kKMGTPE]i?)?$`;

const DURATION_RE = new RegExp(DURATION_PATTERN);
const CPU_RE = new RegExp(CPU_PATTERN);
const MEMORY_RE = new RegExp(MEMORY_PATTERN);

const MS_PER_UNIT = [86_400_000, 3_600_000, 60_000, 1000, 1];
const MEMORY_UNITS: Record<string, number> = {
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A duration in milliseconds: a number of seconds, or a string such as `500ms`, `30s`, `10m`, `2h`, `14d`, `1h30m`. */
export function parseDuration(value: string | number): number {
  const invalid = (why: string) => new QuantitySyntaxError('duration', value, `${JSON.stringify(value)} is not a valid duration: ${why}`);
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw invalid('a number of seconds must be zero or more');
    ms = value * 1000;
  } else if (typeof value === 'string') {
    const match = DURATION_RE.exec(value);
    if (!match) throw invalid('write a number with units from largest to smallest, such as 30s, 10m, 1h30m or 500ms');
    ms = match.slice(1).reduce((sum, amount, i) => (amount === undefined ? sum : sum + Number(amount) * MS_PER_UNIT[i]), 0);
  } else {
    throw invalid('use a string such as 30s or a number of seconds');
  }
  ms = Math.round(ms);
  if (!Number.isSafeInteger(ms)) throw invalid('it is too long');
  return ms;
}

/** A CPU quantity in cores: a number, or a string of cores (`2`, `0.5`) or millicores (`500m`). Must be above zero. */
export function parseCpu(value: string | number): number {
  const invalid = (why: string) => new QuantitySyntaxError('cpu', value, `${JSON.stringify(value)} is not a valid CPU quantity: ${why}`);
  let cores: number;
  if (typeof value === 'number') cores = value;
  else if (typeof value === 'string' && CPU_RE.test(value)) cores = value.endsWith('m') ? Number(value.slice(0, -1)) / 1000 : Number(value);
  else throw invalid('write cores (2, 0.5) or millicores (500m)');
  if (!Number.isFinite(cores) || cores <= 0) throw invalid('it must be greater than zero');
  return cores;
}

/** A memory quantity in bytes: a number of bytes, or a string such as `512M`, `64Mi`, `1Gi`. Must be at least one byte. */
export function parseMemory(value: string | number): number {
  const invalid = (why: string) =>
    new QuantitySyntaxError('memory', value, `${JSON.stringify(value)} is not a valid memory quantity: ${why}`);
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalid('a number of bytes must be a whole number');
    bytes = value;
  } else {
    const match = typeof value === 'string' ? MEMORY_RE.exec(value) : null;
    if (!match) throw invalid('write bytes, or a number with a unit such as 512M, 64Mi or 1Gi');
    // Fractions of a unit round up to whole bytes, as container runtimes do.
    bytes = Math.ceil(Number(match[1]) * (match[2] ? MEMORY_UNITS[match[2]] : 1));
  }
  if (bytes < 1) throw invalid('it must be at least one byte');
  if (!Number.isSafeInteger(bytes)) throw invalid('it is too large');
  return bytes;
}
