/**
 * Small helpers of the engine benchmark (bench/engine.bench.ts): parameters,
 * statistics, formatting, the cleanup stack and CPU accounting.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CLOCK_TICKS, findPids } from './proc-stats';

export const now = () => performance.now();

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not "${raw}"`);
  return value;
}

export function envInt(name: string, fallback: number, min = 0): number {
  return Math.max(min, Math.round(envNumber(name, fallback)));
}

/** A comma-separated list of positive integers, e.g. `1,4`. */
export function envIntList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) throw new Error(`${name} must be positive integers separated by commas, not "${raw}"`);
  return values;
}

// ---------------------------------------------------------------------------------------
// Statistics and formatting

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface Dist {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: number[]): Dist {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(a: number, b: number, digits = 2): string {
  return b > 0 && Number.isFinite(a) ? (a / b).toFixed(digits) : 'n/a';
}

export function fmtDist(d: Dist, digits = 1): string {
  return `p50 ${fmt(d.p50, digits)}  p90 ${fmt(d.p90, digits)}  p99 ${fmt(d.p99, digits)}  max ${fmt(d.max, digits)}  mean ${fmt(d.mean, digits)} ms (n=${fmt(d.count)})`;
}

export function progress(message: string): void {
  process.stdout.write(`  .. ${message}\n`);
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work` with these environment variables set, then puts the previous values back (services read settings at start). */
export async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return await work();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

// ---------------------------------------------------------------------------------------
// Cleanup: a LIFO stack run at the end, on failure and on SIGINT/SIGTERM.

const cleanups: { label: string; run: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;

export function defer(label: string, run: () => Promise<unknown>): void {
  cleanups.push({ label, run });
}

/** Runs (and forgets) the cleanups registered after `mark` (a length of the stack). */
export async function cleanupTo(mark: number): Promise<void> {
  while (cleanups.length > mark) {
    const { label, run } = cleanups.pop()!;
    try {
      await withTimeout(run(), 20_000, label);
    } catch (error) {
      process.stderr.write(`cleanup: ${label} failed: ${(error as Error).message}\n`);
    }
  }
}

export function cleanupMark(): number {
  return cleanups.length;
}

export function cleanupAll(): Promise<void> {
  cleaning ??= cleanupTo(0);
  return cleaning;
}

export const state = { aborted: false };

export function abort(message: string, code: number): void {
  if (state.aborted) return;
  state.aborted = true;
  process.stderr.write(`${message}\ncleaning up\n`);
  void cleanupAll().finally(() => process.exit(code));
}

export function installAbortHandlers(): void {
  process.on('uncaughtException', (error) => abort(`uncaught: ${error.stack ?? error.message}`, 1));
  process.on('unhandledRejection', (reason) => abort(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`, 1));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort(`\n${signal}`, 130));
}

// ---------------------------------------------------------------------------------------
// CPU of this process, of the MariaDB and NATS servers (when local and readable) and
// of the whole machine.


const PIDS = {
  mariadb: findPids(['mariadbd', 'mysqld']),
  nats: findPids(['nats-server']),
  podman: findPids(['podman']),
};

function processCpu(pids: number[]): number {
  if (pids.length === 0) return NaN;
  let seconds = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      seconds += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
    } catch {
      return NaN;
    }
  }
  return seconds;
}

export interface CpuSample {
  at: number;
  self: number;
  mariadb: number;
  nats: number;
  busy: number;
  total: number;
}

export function cpuSample(): CpuSample {
  let busy = NaN;
  let total = NaN;
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks.map(Number);
    total = (user + nice + system + idle + iowait + irq + softirq + steal) / CLOCK_TICKS;
    busy = total - (idle + iowait) / CLOCK_TICKS;
  } catch {
    // not Linux
  }
  const usage = process.cpuUsage();
  return {
    at: now(),
    self: (usage.user + usage.system) / 1e6,
    mariadb: processCpu(PIDS.mariadb),
    nats: processCpu(PIDS.nats),
    busy,
    total,
  };
}

/** CPU used since `from`, in % of one core (machine: % of all cores busy). */
export function cpuPercentSince(from: CpuSample): { self: number; mariadb: number; nats: number; machine: number; seconds: number } {
  const to = cpuSample();
  const seconds = (to.at - from.at) / 1000;
  return {
    seconds,
    self: ((to.self - from.self) / seconds) * 100,
    mariadb: ((to.mariadb - from.mariadb) / seconds) * 100,
    nats: ((to.nats - from.nats) / seconds) * 100,
    machine: ((to.busy - from.busy) / (to.total - from.total)) * 100,
  };
}

export function fmtCpu(cpu: ReturnType<typeof cpuPercentSince>): string {
  return `CPU in % of one core: this process ${fmt(cpu.self)}, MariaDB ${fmt(cpu.mariadb)}, NATS ${fmt(cpu.nats)}; machine ${fmt(cpu.machine)}% busy`;
}
