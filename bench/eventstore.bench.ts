/**
 * Event store benchmark against the real MariaDB and NATS JetStream:
 *
 *  1. baseline A: raw single-row INSERTs (autocommit) with mysql2 into a copy of co_events,
 *     on connections set up like the service pool's (READ COMMITTED, utf8mb4_bin)
 *  2. EventStore.append (one event, explicit expected version, each worker on its own
 *     streams) at 1 and N connections, alternating with 1 in slices; then, apart and not
 *     in the ratio, N connections with a share of appends racing on one shared stream
 *  3. baseline B: raw JetStream publishes (500 in flight, one at a time) and the
 *     OutboxRelay draining a backlog
 *  4. latency append -> applied at a steady rate, through a local ProjectionRunner
 *     whose projection writes its read model with one multi-row INSERT per batch
 *     (applyBatch, as a service would: this is the path the p99 goal is judged on), and,
 *     for information, the cross-service path: relay + JetStream + a subscriber in
 *     another process writing into a second database
 *
 * Run with `npm run bench:eventstore`; every figure can be tuned with BENCH_* variables
 * (see CONFIG). It creates its own databases and JetStream streams and removes them at
 * the end, also on failure or Ctrl-C. It exits 0 whether the goals are met or not.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import {
  connect as natsConnect,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { EntityManager } from 'typeorm';
import { NatsJetStreamBus, type BusSubscription, type EventBus, type OutgoingMessage, type PublishResult } from '@co/bus';
import {
  Checkpoints,
  ConcurrencyConflictError,
  Database,
  DuplicateEventError,
  EventStore,
  OutboxRelay,
  ProjectionRunner,
  subscribeToEvents,
  toMessage,
  type EventEnvelope,
  type Projection,
  type RecordedEvent,
} from '@co/eventstore';
import { insertReadModelRows } from './read-model';
import type { SubscriberChildOptions } from './eventstore-subscriber';
import { CLOCK_TICKS, findPids } from './proc-stats';

// ---------------------------------------------------------------------------------------
// Parameters

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not "${raw}"`);
  return value;
}

const CONFIG = {
  mysqlUrl: (process.env.BENCH_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306').replace(/\/+$/, ''),
  natsUrl: process.env.BENCH_NATS_URL ?? '127.0.0.1:4222',
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  /** The "many connections" concurrency (the single-connection runs always use 1). */
  concurrency: Math.max(1, Math.round(envNumber('BENCH_CONCURRENCY', 16))),
  /** Measured seconds of each insert/append phase (after the warm-up). */
  phaseSeconds: envNumber('BENCH_PHASE_SECONDS', 3),
  /** Raw and append slices alternate this many times per concurrency (noise fairness). */
  rounds: Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3))),
  /** Uncounted warm-up at the start of every slice. */
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 0.1),
  streamsPerWorker: Math.max(1, Math.round(envNumber('BENCH_STREAMS_PER_WORKER', 50))),
  /**
   * Share of the appends that go to one shared "hot" stream in the separate conflict-path
   * slice (many connections). The raw-vs-append comparison itself has no hot stream: a
   * raw INSERT has no conflict to lose, so that comparison stays one row against one event.
   */
  conflictShare: Math.min(1, envNumber('BENCH_CONFLICT_SHARE', 0.02)),
  /** Measured seconds of the conflict-path slice; 0 skips it. */
  conflictSeconds: envNumber('BENCH_CONFLICT_SECONDS', 1),
  payloadBytes: Math.round(envNumber('BENCH_PAYLOAD_BYTES', 200)),
  natsAsyncCount: Math.max(1, Math.round(envNumber('BENCH_NATS_ASYNC_COUNT', 20_000))),
  natsInflight: Math.max(1, Math.round(envNumber('BENCH_NATS_INFLIGHT', 500))),
  natsSyncSeconds: envNumber('BENCH_NATS_SYNC_SECONDS', 2),
  relayEvents: Math.max(1, Math.round(envNumber('BENCH_RELAY_EVENTS', 20_000))),
  /** Events around one 2-event append for the hole demo; 0 skips it. */
  gapDemoEvents: Math.round(envNumber('BENCH_GAP_DEMO_EVENTS', 400)),
  latencyRate: Math.max(1, envNumber('BENCH_LATENCY_RATE', 1000)),
  latencySeconds: envNumber('BENCH_LATENCY_SECONDS', 10),
  latencyStreams: Math.max(1, Math.round(envNumber('BENCH_LATENCY_STREAMS', 200))),
  drainTimeoutSeconds: envNumber('BENCH_DRAIN_TIMEOUT_SECONDS', 15),
  /** 1: run the subscriber in this process instead of a child process ("another service"). */
  subscriberInProcess: process.env.BENCH_SUBSCRIBER_IN_PROCESS === '1',
  /** 0: no cross-service subscriber during the latency phase (diagnosis: the local path alone, with its relay). */
  crossService: process.env.BENCH_CROSS_SERVICE !== '0',
  /**
   * 'own': diagnosis only: the ProjectionRunner gets a pool of its own instead of sharing
   * the service's pool with the appends (what a libs change could give it). Default 'shared'.
   */
  projectionPool: process.env.BENCH_PROJECTION_POOL === 'own' ? 'own' : 'shared',
  goalAppendRatio: envNumber('BENCH_GOAL_APPEND_RATIO', 0.5),
  goalP99Ms: envNumber('BENCH_GOAL_P99_MS', 50),
};

const EVENT_TYPE = 'BenchRecorded';
const METADATA = { actor: 'system:bench' };
const RUN_ID = randomBytes(3).toString('hex');
/** Subject prefix: streams are named BENCH<hex>_<SERVICE>. */
const PREFIX = `bench${RUN_ID}`;
const STREAM_PREFIX = `${PREFIX.toUpperCase()}_`;
const DB_PREFIX = `cobench_${RUN_ID}`;

const logger: Logger = pino({ level: CONFIG.logLevel, base: { service: 'bench' } }, pino.destination(2));

// ---------------------------------------------------------------------------------------
// Small helpers

const now = () => performance.now();

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function eventData(seq: number): Record<string, unknown> {
  return { runId: RUN_ID, seq, note: 'x'.repeat(CONFIG.payloadBytes) };
}

function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : 'n/a';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

interface Dist {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

function distribution(values: number[]): Dist {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

function fmtDist(d: Dist): string {
  return `p50 ${fmt(d.p50, 1)}  p95 ${fmt(d.p95, 1)}  p99 ${fmt(d.p99, 1)}  max ${fmt(d.max, 1)} ms`;
}

function errorKind(error: unknown): string {
  if (error instanceof ConcurrencyConflictError) return 'ConcurrencyConflict';
  if (error instanceof DuplicateEventError) return 'DuplicateEvent';
  const withDriver = error as { driverError?: { code?: string }; code?: string; name?: string };
  return withDriver.driverError?.code ?? withDriver.code ?? withDriver.name ?? 'Error';
}

class Counter {
  private readonly counts = new Map<string, number>();
  add(key: string, by = 1) {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }
  get total(): number {
    let total = 0;
    for (const value of this.counts.values()) total += value;
    return total;
  }
  toString(): string {
    if (this.counts.size === 0) return 'none';
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, value]) => `${key} ${fmt(value)}`)
      .join(', ');
  }
}

function progress(message: string) {
  process.stdout.write(`  .. ${message}\n`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
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

// ---------------------------------------------------------------------------------------
// Cleanup: a LIFO stack run at the end, on failure and on SIGINT/SIGTERM.

const cleanups: { label: string; run: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;

function defer(label: string, run: () => Promise<unknown>) {
  cleanups.push({ label, run });
}

function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { label, run } = cleanups.pop()!;
      try {
        await withTimeout(run(), 15_000, label);
      } catch (error) {
        process.stderr.write(`cleanup: ${label} failed: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

/** Set on a signal or a crash: loops stop starting work, late errors are ignored. */
let aborted = false;

function abort(message: string, code: number) {
  if (aborted) return;
  aborted = true;
  process.stderr.write(`${message}\ncleaning up\n`);
  void cleanupAll().finally(() => process.exit(code));
}

process.on('uncaughtException', (error) => abort(`uncaught: ${error.stack ?? error.message}`, 1));
process.on('unhandledRejection', (reason) => abort(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`, 1));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => abort(`\n${signal}`, 130));
}

// ---------------------------------------------------------------------------------------
// Infrastructure

interface Infra {
  admin: Connection;
  mysqlVersion: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  natsVersion: string;
}

function mysqlServer() {
  const url = new URL(CONFIG.mysqlUrl.replace(/^mariadb:/, 'mysql:'));
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  };
}

async function rawConnection(database?: string, charset?: string): Promise<Connection> {
  return createConnection({ ...mysqlServer(), database, charset, timezone: 'Z', supportBigNumbers: true, connectTimeout: 5000 });
}

async function setUpInfra(): Promise<Infra> {
  const admin = await rawConnection();
  defer('close MariaDB admin connection', () => admin.end());
  const [versionRows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  const nc = await natsConnect({ servers: CONFIG.natsUrl.split(','), name: 'co-bench-admin' });
  defer('close NATS admin connection', () => nc.close());
  const jsm = await nc.jetstreamManager();
  defer(`delete JetStream streams ${STREAM_PREFIX}*`, async () => {
    const names: string[] = [];
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(STREAM_PREFIX)) names.push(stream.config.name);
    }
    for (const name of names) await jsm.streams.delete(name);
  });
  return { admin, mysqlVersion: String(versionRows[0].version), nc, jsm, natsVersion: nc.info?.version ?? '?' };
}

async function openDatabase(infra: Infra, suffix: string): Promise<{ db: Database; name: string }> {
  const name = `${DB_PREFIX}_${suffix}`;
  defer(`drop database ${name}`, () => infra.admin.query(`DROP DATABASE IF EXISTS \`${name}\``));
  const db = await Database.open({ url: `${CONFIG.mysqlUrl}/${name}` }); // runs the event store's migrations
  defer(`close database ${name}`, () => db.close());
  return { db, name };
}

async function connectBus(connectionName: string): Promise<NatsJetStreamBus> {
  const bus = new NatsJetStreamBus({
    servers: CONFIG.natsUrl,
    connectionName,
    subjectPrefix: PREFIX,
    logger: logger.child({ component: connectionName }),
  });
  await bus.connect();
  defer(`close bus ${connectionName}`, () => bus.close());
  return bus;
}

async function innodbStatus(infra: Infra): Promise<Record<string, number>> {
  const [rows] = await infra.admin.query<RowDataPacket[]>(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_deadlocks', 'Innodb_row_lock_waits', 'Com_insert', 'Com_insert_select')",
  );
  return Object.fromEntries(rows.map((row) => [String(row.Variable_name), Number(row.Value)]));
}

// ---------------------------------------------------------------------------------------
// CPU of the whole machine and of the MariaDB server process (when it runs on this
// machine and /proc is readable; otherwise the figures are n/a).


const SERVER_PIDS = findPids(['mariadbd', 'mysqld']);
const NATS_PIDS = findPids(['nats-server']);

/** CPU seconds used so far by these processes (NaN when one cannot be read). */
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

interface CpuSample {
  /** MariaDB server and NATS server CPU seconds (NaN when not found). */
  server: number;
  nats: number;
  /** Busy and total CPU seconds of the machine, all cores. */
  busy: number;
  total: number;
  /** Seconds during which some runnable task waited for a CPU (Linux PSI, /proc/pressure/cpu). */
  cpuWait: number;
}

function cpuSample(): CpuSample {
  const server = processCpu(SERVER_PIDS);
  const nats = processCpu(NATS_PIDS);
  let cpuWait = NaN;
  try {
    const some = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (some) cpuWait = Number(some[1]) / 1e6;
  } catch {
    // no PSI
  }
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
  return { server, nats, busy, total, cpuWait };
}

function cpuSince(from: CpuSample): CpuSample {
  const to = cpuSample();
  return {
    server: to.server - from.server,
    nats: to.nats - from.nats,
    busy: to.busy - from.busy,
    total: to.total - from.total,
    cpuWait: to.cpuWait - from.cpuWait,
  };
}

// ---------------------------------------------------------------------------------------
// Closed-loop throughput: raw inserts and appends, in alternating slices

interface ThroughputResult {
  ok: number;
  seconds: number;
  rate: number;
  failures: Counter;
  /** CPU of this Node process while measuring, in % of one core. */
  cpuPercent: number;
  /** CPU of the MariaDB server while measuring, in % of one core (NaN if not local). */
  serverCpuPercent: number;
  /** MariaDB server CPU per successful operation, in ms. */
  serverCpuMsPerOp: number;
  /** Busy share of all the machine's cores while measuring (everything on it, not only us). */
  machineBusyPercent: number;
  /** Client-side duration of each successful operation. */
  opMs: Dist;
  /** Client-side duration of each statement the operation sent, by kind (appends only). */
  statements: [string, Dist][];
  deadlocks: number;
  notes: string[];
}

/** Durations of the statements an EventStore sends, recorded while a slice measures. */
class StatementTimes {
  recording = false;
  private readonly byKind = new Map<string, number[]>();

  record(sql: string, ms: number) {
    if (!this.recording) return;
    const head = sql.trim().split(/\s+/, 1)[0].toUpperCase();
    const kind = head === 'SELECT' ? 'SELECT (version read)' : head === 'INSERT' ? 'INSERT … VALUES' : head;
    let list = this.byKind.get(kind);
    if (!list) this.byKind.set(kind, (list = []));
    list.push(ms);
  }

  distributions(): [string, Dist][] {
    return [...this.byKind.entries()].map(([kind, values]) => [kind, distribution(values)]);
  }
}

/** A view of `db` whose statements are timed (pool checkout + TypeORM + round trip). */
function timedDatabase(db: Database, times: StatementTimes): Database {
  const timed = Object.create(db) as Database;
  timed.query = async <T>(sql: string, parameters: unknown[] = []): Promise<T> => {
    const began = now();
    try {
      return await db.query<T>(sql, parameters);
    } finally {
      times.record(sql, now() - began);
    }
  };
  return timed;
}

/** One kind of operation run by `concurrency` closed-loop workers. */
interface Workload {
  /** Returns undefined on success, else a failure kind. */
  run(worker: number): Promise<string | undefined>;
  notes(): string[];
  statements?: StatementTimes;
}

class Tally {
  ok = 0;
  seconds = 0;
  cpuMicros = 0;
  serverCpu = 0;
  machineBusy = 0;
  machineTotal = 0;
  deadlocks = 0;
  readonly opMs: number[] = [];
  readonly failures = new Counter();

  result(notes: string[], statements?: StatementTimes): ThroughputResult {
    return {
      ok: this.ok,
      seconds: this.seconds,
      rate: this.ok / this.seconds,
      failures: this.failures,
      cpuPercent: (this.cpuMicros / 1e6 / this.seconds) * 100,
      serverCpuPercent: (this.serverCpu / this.seconds) * 100,
      serverCpuMsPerOp: (this.serverCpu * 1000) / Math.max(1, this.ok),
      machineBusyPercent: (this.machineBusy / this.machineTotal) * 100,
      opMs: distribution(this.opMs),
      statements: statements?.distributions() ?? [],
      deadlocks: this.deadlocks,
      notes,
    };
  }
}

/**
 * Runs one slice: `concurrency` workers for a short warm-up (not counted) and then
 * `seconds`; operations started after the warm-up count.
 */
async function slice(infra: Infra, concurrency: number, workload: Workload, seconds: number, tally: Tally) {
  const warmEnd = now() + CONFIG.warmupSeconds * 1000;
  const end = warmEnd + seconds * 1000;
  let lastFinish = warmEnd;
  let cpuAtWarmEnd: NodeJS.CpuUsage | undefined;
  let machineAtWarmEnd: CpuSample | undefined;
  let statusAtWarmEnd: Promise<Record<string, number>> | undefined;
  const warmTimer = setTimeout(() => {
    cpuAtWarmEnd = process.cpuUsage();
    machineAtWarmEnd = cpuSample();
    statusAtWarmEnd = innodbStatus(infra);
    if (workload.statements) workload.statements.recording = true;
  }, Math.max(0, warmEnd - now()));
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (now() < end && !aborted) {
        const began = now();
        const failure = await workload.run(worker);
        const finished = now();
        if (began < warmEnd) continue;
        if (failure) tally.failures.add(failure);
        else {
          tally.ok++;
          tally.opMs.push(finished - began);
        }
        if (finished > lastFinish) lastFinish = finished;
      }
    }),
  );
  clearTimeout(warmTimer);
  if (workload.statements) workload.statements.recording = false;
  const cpu = process.cpuUsage(cpuAtWarmEnd);
  const machine = machineAtWarmEnd ? cpuSince(machineAtWarmEnd) : { server: NaN, busy: NaN, total: NaN };
  tally.cpuMicros += cpu.user + cpu.system;
  tally.serverCpu += machine.server;
  tally.machineBusy += machine.busy;
  tally.machineTotal += machine.total;
  tally.seconds += (lastFinish - warmEnd) / 1000;
  if (statusAtWarmEnd) {
    const [before, after] = await Promise.all([statusAtWarmEnd, innodbStatus(infra)]);
    tally.deadlocks += after.Innodb_deadlocks - before.Innodb_deadlocks;
  }
}

/**
 * Raw inserts and appends at one concurrency, alternating in `rounds` slices each so
 * that both see the same background noise (the machines are shared).
 */
async function compareAt(
  infra: Infra,
  concurrency: number,
  raw: Workload,
  append: Workload,
): Promise<{ raw: ThroughputResult; append: ThroughputResult }> {
  const rounds = Math.max(1, CONFIG.rounds);
  const sliceSeconds = CONFIG.phaseSeconds / rounds;
  const rawTally = new Tally();
  const appendTally = new Tally();
  for (let round = 0; round < rounds; round++) {
    await slice(infra, concurrency, raw, sliceSeconds, rawTally);
    await slice(infra, concurrency, append, sliceSeconds, appendTally);
  }
  return {
    raw: rawTally.result(raw.notes(), raw.statements),
    append: appendTally.result(append.notes(), append.statements),
  };
}

/** Opens `connections` connections of the pool up front, as the raw side has its own open. */
async function warmPool(db: Database, connections: number) {
  await Promise.all(Array.from({ length: connections }, () => db.query('SELECT SLEEP(0.05)')));
}

interface BenchStream {
  id: string;
  version: number;
}

function newStreams(count: number): BenchStream[] {
  return Array.from({ length: count }, () => ({ id: `bench-${hex(8)}`, version: 0 }));
}

/**
 * One raw single-row INSERT per operation, each worker on its own connection and its
 * own streams, the version computed in the client. The connections are set up like the
 * service pool's (Database.open): READ COMMITTED, utf8mb4_bin, UTC.
 */
async function rawInsertWorkload(dbName: string, concurrency: number): Promise<Workload> {
  const connections = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const connection = await rawConnection(dbName, 'utf8mb4_bin');
      await connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      return connection;
    }),
  );
  defer(`close ${concurrency} raw connections`, () =>
    Promise.all(connections.map((connection) => connection.end().catch(() => undefined))),
  );
  const streams = connections.map(() => newStreams(CONFIG.streamsPerWorker));
  const cursor = connections.map(() => 0);
  const metadata = JSON.stringify(METADATA);
  let seq = 0;
  return {
    async run(worker) {
      const own = streams[worker];
      const stream = own[cursor[worker]++ % own.length];
      try {
        await connections[worker].query(
          `INSERT INTO bench_raw_events (event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [randomUUID(), stream.id, stream.version + 1, EVENT_TYPE, 1, JSON.stringify(eventData(seq++)), metadata, new Date()],
        );
        stream.version++;
        return undefined;
      } catch (error) {
        return errorKind(error);
      }
    },
    notes: () => [],
  };
}

/**
 * One EventStore.append of one event per operation, with the explicit expected version
 * the worker knows. With `hotShare` 0 every worker appends only to its own streams
 * (nothing to conflict with: like for like with the raw inserts); with a share, that
 * fraction of the appends race on one stream shared by all workers.
 */
function appendWorkload(db: Database, concurrency: number, hotShare: number): Workload {
  const statements = new StatementTimes();
  const store = new EventStore(timedDatabase(db, statements));
  const streams = Array.from({ length: concurrency }, () => newStreams(CONFIG.streamsPerWorker));
  const cursor = streams.map(() => 0);
  const share = concurrency > 1 ? hotShare : 0;
  const hot: BenchStream = { id: `bench-hot${hex(4)}`, version: 0 };
  let hotAppends = 0;
  let hotConflicts = 0;
  let falseConflicts = 0;
  let seq = 0;
  return {
    statements,
    async run(worker) {
      const isHot = share > 0 && Math.random() < share;
      const own = streams[worker];
      const stream = isHot ? hot : own[cursor[worker]++ % own.length];
      const expected = stream.version;
      if (isHot) hotAppends++;
      try {
        await store.append(stream.id, expected, [{ id: randomUUID(), type: EVENT_TYPE, data: eventData(seq++) }], METADATA);
        stream.version = Math.max(stream.version, expected + 1);
        return undefined;
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) {
          stream.version = Math.max(stream.version, error.actualVersion);
          if (isHot) hotConflicts++;
          else falseConflicts++;
          return isHot ? 'ConcurrencyConflict on the shared stream' : 'ConcurrencyConflict on an unshared stream';
        }
        // Nothing is known about what happened: reload the version like a caller would.
        stream.version = await store.streamVersion(stream.id).catch(() => stream.version);
        return errorKind(error);
      }
    },
    notes() {
      const notes: string[] = [];
      if (share > 0) {
        notes.push(
          `${fmt(hotAppends)} appends (${Math.round(share * 100)}%) to one shared stream, ${fmt(hotConflicts)} ConcurrencyConflict`,
        );
      }
      if (falseConflicts > 0) notes.push(`${fmt(falseConflicts)} ConcurrencyConflict on streams no other worker touched`);
      return notes;
    },
  };
}

async function logHoles(db: Database): Promise<{ rows: number; head: number; holes: number }> {
  const [row] = await db.query<{ n: string | number; head: string | number | null }[]>(
    'SELECT COUNT(*) AS n, MAX(position) AS head FROM co_events',
  );
  const rows = Number(row.n);
  const head = Number(row.head ?? 0);
  return { rows, head, holes: head - rows };
}

// ---------------------------------------------------------------------------------------
// NATS: raw publishes and the relay

function sampleMessage(service: string, seq: number): OutgoingMessage {
  const event: RecordedEvent = {
    position: seq,
    id: randomUUID(),
    streamId: `bench-${hex(8)}`,
    streamVersion: 1,
    type: EVENT_TYPE,
    schemaVersion: 1,
    data: eventData(seq),
    metadata: METADATA,
    occurredAt: new Date(),
  };
  return toMessage(service, `${PREFIX}.${service}.bench.${EVENT_TYPE}`, event, {});
}

interface NatsBaseline {
  asyncRate: number;
  asyncCount: number;
  chunkedRate: number;
  syncRate: number;
  syncCount: number;
  payloadBytes: number;
}

async function natsBaseline(infra: Infra): Promise<NatsBaseline> {
  const stream = `${STREAM_PREFIX}RAW`;
  // Same storage, retention and de-duplication window as the bus' service streams.
  await infra.jsm.streams.add({
    name: stream,
    subjects: [`${PREFIX}.raw.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(120_000),
  });
  const js = infra.nc.jetstream();
  const sample = sampleMessage('raw', 1);
  const payload = new TextEncoder().encode(JSON.stringify(sample.data));
  const publish = (seq: number) => {
    const headers = natsHeaders();
    for (const [key, value] of Object.entries(sample.headers ?? {})) headers.set(key, value);
    return js.publish(sample.subject, payload, { msgID: `${RUN_ID}-${seq}`, headers });
  };
  for (let i = 0; i < 200; i++) await publish(-1 - i); // warm-up
  let seq = 0;
  const asyncStart = now();
  await Promise.all(
    Array.from({ length: Math.min(CONFIG.natsInflight, CONFIG.natsAsyncCount) }, async () => {
      while (seq < CONFIG.natsAsyncCount && !aborted) await publish(seq++);
    }),
  );
  const asyncSeconds = (now() - asyncStart) / 1000;
  const asyncCount = seq;
  // What OutboxRelay.publishBatch does: 100 publishes, wait for all acks, next 100.
  const chunkedStart = now();
  for (let sent = 0; sent < CONFIG.natsAsyncCount; sent += 100) {
    await Promise.all(Array.from({ length: Math.min(100, CONFIG.natsAsyncCount - sent) }, () => publish(seq++)));
  }
  const chunkedSeconds = (now() - chunkedStart) / 1000;
  const syncStart = now();
  const syncEnd = syncStart + CONFIG.natsSyncSeconds * 1000;
  let syncCount = 0;
  while (now() < syncEnd && !aborted) {
    await publish(seq++);
    syncCount++;
  }
  const syncSeconds = (now() - syncStart) / 1000;
  return {
    asyncRate: asyncCount / asyncSeconds,
    asyncCount,
    chunkedRate: CONFIG.natsAsyncCount / chunkedSeconds,
    syncRate: syncCount / syncSeconds,
    syncCount,
    payloadBytes: payload.byteLength,
  };
}

async function bulkBacklog(infra: Infra, dbName: string, count: number) {
  const metadata = JSON.stringify(METADATA);
  const streams = 1000;
  for (let from = 0; from < count; from += 1000) {
    const rows: unknown[][] = [];
    for (let i = from; i < Math.min(count, from + 1000); i++) {
      rows.push([
        i + 1,
        randomUUID(),
        `bench-backlog${i % streams}`,
        Math.floor(i / streams) + 1,
        EVENT_TYPE,
        1,
        JSON.stringify(eventData(i)),
        metadata,
        new Date(),
      ]);
    }
    await infra.admin.query(
      `INSERT INTO \`${dbName}\`.co_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at) VALUES ?`,
      [rows],
    );
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs: number, everyMs = 2): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!predicate()) {
    if (now() > deadline || aborted) return false;
    await sleep(everyMs);
  }
  return true;
}

interface RelayResult {
  events: number;
  seconds: number;
  rate: number;
  cpuPercent: number;
  inStream: number;
}

async function relayDrain(infra: Infra, bus: NatsJetStreamBus): Promise<RelayResult> {
  const { db, name } = await openDatabase(infra, 'relay');
  await bulkBacklog(infra, name, CONFIG.relayEvents);
  await bus.ensureStream('relay');
  const relay = new OutboxRelay(new EventStore(db), bus, new Checkpoints(db), {
    service: 'relay',
    subjectPrefix: PREFIX,
    logger: logger.child({ component: 'relay' }),
  });
  defer('stop relay (drain)', () => relay.stop());
  const cpu = process.cpuUsage();
  const start = now();
  relay.start();
  const done = await waitUntil(() => relay.publishedCount >= CONFIG.relayEvents, 120_000);
  const seconds = (now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  await relay.stop();
  if (!done) throw new Error(`the relay published only ${relay.publishedCount} of ${CONFIG.relayEvents} events in 120 s`);
  const info = await infra.jsm.streams.info(`${STREAM_PREFIX}RELAY`);
  return {
    events: relay.publishedCount,
    seconds,
    rate: relay.publishedCount / seconds,
    cpuPercent: ((used.user + used.system) / 1e6 / seconds) * 100,
    inStream: info.state.messages,
  };
}

interface GapDemoResult {
  events: number;
  holes: number;
  seconds: number;
  firstHalfMs: number;
  racesLost: number;
  /** Events written in the middle (the pair and the race winners). */
  middle: number;
}

/**
 * A backlog with, in its middle, one 2-event append and one lost race (two appends to
 * the same stream at the same expected version): how long does the relay take to
 * drain it, and how many holes do they leave in the positions?
 */
async function gapDemo(infra: Infra, bus: NatsJetStreamBus): Promise<GapDemoResult> {
  const { db } = await openDatabase(infra, 'gap');
  const store = new EventStore(db);
  const half = Math.max(1, Math.floor(CONFIG.gapDemoEvents / 2));
  let seq = 0;
  for (let i = 0; i < half; i++) await store.append(`bench-g${i}`, 0, [{ type: EVENT_TYPE, data: eventData(seq++) }]);
  await store.append('bench-gpair', 0, [
    { type: EVENT_TYPE, data: eventData(seq++) },
    { type: EVENT_TYPE, data: eventData(seq++) },
  ]);
  let racesLost = 0;
  for (let version = 0; version < 20; version++) {
    const race = await Promise.allSettled(
      [0, 1].map(() => store.append('bench-grace', version, [{ type: EVENT_TYPE, data: eventData(seq++) }])),
    );
    racesLost += race.filter((outcome) => outcome.status === 'rejected').length;
    if ((await logHoles(db)).holes > 0) break;
  }
  const middle = (await logHoles(db)).rows;
  for (let i = half; i < 2 * half; i++) await store.append(`bench-g${i}`, 0, [{ type: EVENT_TYPE, data: eventData(seq++) }]);
  const log = await logHoles(db);
  await bus.ensureStream('gap');
  const relay = new OutboxRelay(store, bus, new Checkpoints(db), {
    service: 'gap',
    subjectPrefix: PREFIX,
    logger: logger.child({ component: 'relay-gap' }),
  });
  defer('stop relay (gap demo)', () => relay.stop());
  const start = now();
  relay.start();
  await waitUntil(() => relay.publishedCount >= half, 30_000);
  const firstHalfMs = now() - start;
  const done = await waitUntil(() => relay.publishedCount >= log.rows, 30_000);
  const seconds = (now() - start) / 1000;
  await relay.stop();
  if (!done) throw new Error(`gap demo: the relay published only ${relay.publishedCount} of ${log.rows} events`);
  return { events: log.rows, holes: log.holes, seconds, firstHalfMs, racesLost, middle: middle - half };
}

// ---------------------------------------------------------------------------------------
// Latency: paced appends -> local ProjectionRunner (applyBatch, same database), and
// paced appends -> relay -> JetStream -> subscriber (another process, second database)

interface Timing {
  start: number;
  appended?: number;
  publishCalled?: number;
  published?: number;
  remote?: number;
  /** First time the projection's feed read the event (it may stop before it, at a hole). */
  localSeen?: number;
  /** The projection transaction that applied it was asked for (db.transaction called). */
  localTxCalled?: number;
  /** Handed to applyBatch (inside the projection transaction). */
  localBatch?: number;
  /** The projection transaction that applied it committed. */
  local?: number;
  attempts: number;
  failed?: boolean;
}

interface CommitDetail {
  /** When db.transaction was called, when the work began (a pooled connection and START TRANSACTION later). */
  calledAt: number;
  workAt: number;
  /** Requests waiting for a connection of the pool when the transaction was called. */
  poolQueued: number;
}

/** The mysql2 pool under a Database: connections open, free, and requests queued for one. */
function poolStats(db: Database): { open: number; free: number; queued: number } {
  const pool = (db.dataSource.driver as unknown as {
    pool?: { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
  }).pool;
  return {
    open: pool?._allConnections?.length ?? NaN,
    free: pool?._freeConnections?.length ?? NaN,
    queued: pool?._connectionQueue?.length ?? NaN,
  };
}

/** A view of `db` whose transactions report their commit time and the events they applied. */
function trackCommits(db: Database, onCommit: (ids: string[], at: number, durationMs: number, detail: CommitDetail) => void) {
  const open = new WeakMap<EntityManager, string[]>();
  const details = new WeakMap<EntityManager, CommitDetail>();
  const tracked = Object.create(db) as Database;
  tracked.transaction = async <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => {
    const ids: string[] = [];
    const detail: CommitDetail = { calledAt: now(), workAt: NaN, poolQueued: db.dialect === 'mysql' ? poolStats(db).queued : 0 };
    const result = await db.transaction(async (manager) => {
      detail.workAt = now();
      open.set(manager, ids);
      details.set(manager, detail);
      return work(manager);
    });
    const at = now();
    onCommit(ids, at, at - detail.calledAt, detail);
    return result;
  };
  return {
    db: tracked,
    note: (manager: EntityManager, id: string) => open.get(manager)?.push(id),
    detail: (manager: EntityManager) => details.get(manager),
  };
}

interface RemoteSubscriber {
  stop(): Promise<void>;
  /** The subscriber's own process, if it has one. */
  pid?: number;
}

type OnApplied = (ids: string[], at: number, transactionMs: number) => void;

/** The subscriber in this process (BENCH_SUBSCRIBER_IN_PROCESS=1): shares the event loop with the load. */
async function inProcessSubscriber(db: Database, options: SubscriberChildOptions, onApplied: OnApplied): Promise<RemoteSubscriber> {
  const tracked = trackCommits(db, (ids, at, duration) => {
    if (ids.length) onApplied(ids, at, duration);
  });
  const bus = await connectBus('co-bench-readmodel');
  const subscription: BusSubscription = await subscribeToEvents(bus, tracked.db, {
    durable: options.durable,
    subject: options.subject,
    handleBatch: async (events: EventEnvelope[], manager: EntityManager) => {
      await insertReadModelRows(options.table, events, manager);
      for (const event of events) tracked.note(manager, event.id);
    },
  });
  return { stop: () => subscription.stop() };
}

/** The subscriber in a child process, like another service; its clock offset is measured. */
async function childSubscriber(options: SubscriberChildOptions, onApplied: OnApplied): Promise<RemoteSubscriber> {
  const epochNow = () => performance.timeOrigin + performance.now();
  const child: ChildProcess = fork(path.join(__dirname, 'eventstore-subscriber.js'), [], {
    env: { ...process.env, BENCH_SUBSCRIBER_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let offset = 0; // child epoch clock minus ours
  const pongs = new Map<number, (at: number) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.on('error', (error: NodeJS.ErrnoException) => {
    // A send racing the child's exit: nothing left to tell it.
    if (error.code === 'EPIPE' || error.code === 'ERR_IPC_CHANNEL_CLOSED') return;
    process.stderr.write(`subscriber process: ${error.message}\n`);
  });
  defer('end subscriber process', async () => {
    if (exited) return;
    if (child.connected) child.send({ type: 'stop' });
    const ended = await Promise.race([exit.then(() => true), sleep(10_000).then(() => false)]);
    if (!ended) child.kill('SIGKILL');
  });
  let stopped!: () => void;
  const stoppedPromise = new Promise<void>((resolve) => (stopped = resolve));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.on('message', (message: { type: string; id?: number; at?: number; message?: string; items?: [string[], number, number][] }) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'error') reject(new Error(`subscriber process: ${message.message}`));
        else if (message.type === 'pong') pongs.get(message.id!)?.(message.at!);
        else if (message.type === 'stopped') stopped();
        else if (message.type === 'applied') {
          for (const [ids, at, duration] of message.items ?? []) {
            onApplied(ids, at - offset - performance.timeOrigin, duration);
          }
        }
      });
      void exit.then(() => reject(new Error('the subscriber process exited early')));
    }),
    30_000,
    'subscriber process start',
  );
  // Clock offset from the ping with the shortest round trip.
  let best = Infinity;
  for (let id = 0; id < 10; id++) {
    const sent = epochNow();
    const at = await withTimeout(new Promise<number>((resolve) => {
      pongs.set(id, resolve);
      child.send({ type: 'ping', id });
    }), 5000, 'subscriber ping');
    const received = epochNow();
    if (received - sent < best) {
      best = received - sent;
      offset = at - (sent + received) / 2;
    }
  }
  return {
    pid: child.pid,
    async stop() {
      if (exited || !child.connected) return;
      child.send({ type: 'stop' });
      await withTimeout(Promise.race([stoppedPromise, exit]), 15_000, 'subscriber process stop');
    },
  };
}

interface LatencyResult {
  offered: number;
  appended: number;
  failed: number;
  retried: number;
  failures: Counter;
  achievedRate: number;
  appendSeconds: number;
  remote: Dist;
  local: Dist;
  missingRemote: number;
  missingLocal: number;
  appendDuration: Dist;
  /** The statements of the appends (pool checkout + round trip each), by kind. */
  appendStatements: [string, Dist][];
  relayPickup: Dist;
  publishAck: Dist;
  publishToRemote: Dist;
  relayBatches: number;
  localTransactions: number;
  localTxMs: Dist;
  remoteTransactions: number;
  remoteTxMs: Dist;
  /** Local path, split: append returned -> first read by the projection's feed -> applyBatch -> commit. */
  localPickup: Dist;
  /** First read -> its transaction asked for (the feed waiting at a hole, the runner's loop). */
  localHeld: Dist;
  /** Transaction asked for -> applyBatch (pool checkout, START TRANSACTION, checkpoint FOR UPDATE). */
  localTxOpen: Dist;
  /** applyBatch -> commit (the multi-row INSERT, checkpoint save, COMMIT). */
  localApply: Dist;
  /** Mean of each part over the events at or above the local p99 (what the tail is made of). */
  localTail: { count: number; append: number; pickup: number; held: number; txOpen: number; apply: number; queuedAtTx: number };
  /** Per projection transaction: db.transaction called -> work began (pool checkout + START TRANSACTION). */
  localTxStartMs: Dist;
  /** The runner's loop: checkpoint read (outside the transaction) and feed read, each a pool checkout + round trip. */
  checkpointReadMs: Dist;
  feedReadMs: Dist;
  /** Checkpoints.ensure (INSERT IGNORE) that catchUp runs at every call. */
  checkpointEnsureMs: Dist;
  localBatchSize: Dist;
  /** Reads of the projection's feed, and those that found a hole (a position allocated, not committed yet). */
  feedReads: number;
  feedReadsAtHole: number;
  /** Requests queued for a connection of the service's pool (poolSize 20), sampled every 5 ms. */
  poolQueued: Dist;
  serverCpuPercent: number;
  machineBusyPercent: number;
  natsCpuPercent: number;
  subscriberCpuPercent: number;
  /** Machine CPU not used by this process, MariaDB, NATS or the subscriber: other work on the shared machine. */
  othersCpuPercent: number;
  /** Share of the time some runnable task waited for a CPU (PSI "some"). */
  cpuWaitPercent: number;
  /** Event-loop delay of this process (load generator, relay, projection): p50, p99, max in ms. */
  loopDelayMs: { p50: number; p99: number; max: number };
  holes: number;
  cpuPercent: number;
  deadlocks: number;
  maxInFlight: number;
  /** Events applied per second between the first and the last apply. */
  remoteRate: number;
  localRate: number;
}

function applyRate(times: number[]): number {
  if (times.length < 2) return NaN;
  const sorted = [...times].sort((a, b) => a - b);
  return ((sorted.length - 1) / (sorted[sorted.length - 1] - sorted[0])) * 1000;
}

async function latencyPhase(infra: Infra, relayBus: NatsJetStreamBus): Promise<LatencyResult> {
  const { db: sourceDb, name: sourceDbName } = await openDatabase(infra, 'lat');
  const { db: readDb, name: readDbName } = await openDatabase(infra, 'rm');
  await sourceDb.query(`CREATE TABLE bench_local_rm (
      event_id CHAR(36) NOT NULL PRIMARY KEY, stream_id VARCHAR(255) NOT NULL,
      stream_version INT UNSIGNED NOT NULL, position BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB`);
  await readDb.query(`CREATE TABLE bench_remote_rm (
      event_id CHAR(36) NOT NULL PRIMARY KEY, stream_id VARCHAR(255) NOT NULL,
      stream_version INT UNSIGNED NOT NULL, position BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB`);

  const timings = new Map<string, Timing>();
  const store = new EventStore(sourceDb);
  // The appends go through a view of the same store whose statements are timed (its
  // listeners, which wake the relay and the projection runner, are the store's).
  const appendStatements = new StatementTimes();
  const appendStore = Object.create(store) as EventStore;
  Object.defineProperty(appendStore, 'db', { value: timedDatabase(sourceDb, appendStatements) });
  const checkpoints = new Checkpoints(sourceDb);

  // The relay, with its publishes and checkpoint writes observed.
  let relayBatches = 0;
  const observedBus = Object.create(relayBus) as EventBus;
  observedBus.publish = async (message: OutgoingMessage): Promise<PublishResult> => {
    const timing = timings.get(message.id);
    if (timing && timing.publishCalled === undefined) timing.publishCalled = now();
    const result = await relayBus.publish(message);
    if (timing && timing.published === undefined) timing.published = now();
    return result;
  };
  const relayCheckpoints = Object.create(checkpoints) as Checkpoints;
  relayCheckpoints.save = (name: string, position: number, runner?: Pick<EntityManager, 'query'>) => {
    relayBatches++;
    return checkpoints.save(name, position, runner);
  };
  await relayBus.ensureStream('lat');
  const relay = new OutboxRelay(store, observedBus, relayCheckpoints, {
    service: 'lat',
    subjectPrefix: PREFIX,
    logger: logger.child({ component: 'relay-lat' }),
  });
  defer('stop relay (latency)', () => relay.stop());

  // The local projection, in the same database, written as a service would: one
  // multi-row INSERT per batch (applyBatch). Its transactions report their commit time.
  const localTx: number[] = [];
  const localTxStart: number[] = [];
  const localTxQueued = new Map<number, number>(); // commit time -> pool requests queued at its start
  const batchSizes: number[] = [];
  // The runner shares the service's pool with the appends, unless BENCH_PROJECTION_POOL=own.
  let projectionDb = sourceDb;
  if (CONFIG.projectionPool === 'own') {
    projectionDb = await Database.open({ url: `${CONFIG.mysqlUrl}/${sourceDbName}` });
    defer('close the projection pool', () => projectionDb.close());
  }
  const baseStore = projectionDb === sourceDb ? store : new EventStore(projectionDb);
  const baseCheckpoints = projectionDb === sourceDb ? checkpoints : new Checkpoints(projectionDb);
  const local = trackCommits(projectionDb, (ids, at, duration, detail) => {
    if (ids.length) {
      localTx.push(duration);
      localTxStart.push(detail.workAt - detail.calledAt);
      localTxQueued.set(at, detail.poolQueued);
    }
    for (const id of ids) {
      const timing = timings.get(id);
      if (timing && timing.local === undefined) timing.local = at;
    }
  });
  const insertRows = (events: RecordedEvent[]) => ({
    sql: `INSERT INTO bench_local_rm (event_id, stream_id, stream_version, position) VALUES ${events.map(() => '(?, ?, ?, ?)').join(', ')}`,
    parameters: events.flatMap((event) => [event.id, event.streamId, event.streamVersion, event.position]),
  });
  const projection: Projection = {
    name: 'bench-local',
    async apply(event: RecordedEvent, manager: EntityManager) {
      const { sql, parameters } = insertRows([event]);
      await manager.query(sql, parameters);
      local.note(manager, event.id);
    },
    async applyBatch(events: RecordedEvent[], manager: EntityManager) {
      const handed = now();
      const calledAt = local.detail(manager)?.calledAt;
      batchSizes.push(events.length);
      for (const event of events) {
        const timing = timings.get(event.id);
        if (timing && timing.localBatch === undefined) {
          timing.localBatch = handed;
          timing.localTxCalled = calledAt;
        }
      }
      const { sql, parameters } = insertRows(events);
      await manager.query(sql, parameters);
      for (const event of events) local.note(manager, event.id);
    },
    async reset(manager: EntityManager) {
      await manager.query('DELETE FROM bench_local_rm');
    },
  };
  // The projection's view of the store: notes when its feed first reads each event, and
  // whether a read found a hole (the feed stops there until the hole fills or its grace ends).
  let feedReads = 0;
  let feedReadsAtHole = 0;
  const feedReadMs: number[] = [];
  const checkpointReadMs: number[] = [];
  const checkpointEnsureMs: number[] = [];
  const projectionStore = Object.create(baseStore) as EventStore;
  projectionStore.onAppended = (listener) => store.onAppended(listener); // woken by the appends' store
  projectionStore.readAll = async (afterPosition: number, limit: number) => {
    const began = now();
    const rows = await baseStore.readAll(afterPosition, limit);
    const at = now();
    feedReadMs.push(at - began);
    feedReads++;
    let expected = afterPosition + 1;
    let hole = false;
    for (const row of rows) {
      if (row.position !== expected) hole = true;
      expected = row.position + 1;
      const timing = timings.get(row.id);
      if (timing && timing.localSeen === undefined) timing.localSeen = at;
    }
    if (hole) feedReadsAtHole++;
    return rows;
  };
  // ... and of its checkpoints: how long the read before each batch (outside the transaction) takes.
  const projectionCheckpoints = Object.create(baseCheckpoints) as Checkpoints;
  projectionCheckpoints.get = async (name: string, runner?: Pick<EntityManager, 'query'>, lock = false) => {
    const began = now();
    const position = await baseCheckpoints.get(name, runner, lock);
    if (!runner) checkpointReadMs.push(now() - began);
    return position;
  };
  projectionCheckpoints.ensure = async (name: string) => {
    const began = now();
    await baseCheckpoints.ensure(name);
    checkpointEnsureMs.push(now() - began);
  };
  const projections = new ProjectionRunner(local.db, projectionStore, projectionCheckpoints, [projection], {
    logger: logger.child({ component: 'projections' }),
  });
  defer('stop projections', () => projections.stop());

  // The subscriber of "another service": its own process, bus connection and database.
  const remoteTx: number[] = [];
  const onRemoteApplied = (ids: string[], at: number, duration: number) => {
    remoteTx.push(duration);
    for (const id of ids) {
      const timing = timings.get(id);
      if (timing && timing.remote === undefined) timing.remote = at;
    }
  };
  const subscriberOptions: SubscriberChildOptions = {
    natsUrl: CONFIG.natsUrl,
    subjectPrefix: PREFIX,
    databaseUrl: `${CONFIG.mysqlUrl}/${readDbName}`,
    durable: 'bench-readmodel',
    subject: `${PREFIX}.lat.bench.>`,
    table: 'bench_remote_rm',
    logLevel: CONFIG.logLevel,
  };
  const subscriber: RemoteSubscriber = !CONFIG.crossService
    ? { stop: async () => undefined }
    : CONFIG.subscriberInProcess
      ? await inProcessSubscriber(readDb, subscriberOptions, onRemoteApplied)
      : await childSubscriber(subscriberOptions, onRemoteApplied);
  defer('stop subscriber', () => subscriber.stop());

  relay.start();
  projections.start();

  // Paced appends.
  const idle: BenchStream[] = newStreams(CONFIG.latencyStreams);
  const failures = new Counter();
  let retried = 0;
  let seq = 0;
  const appendOne = async () => {
    const stream = idle.shift() ?? newStreams(1)[0];
    const id = randomUUID();
    const timing: Timing = { start: now(), attempts: 0 };
    timings.set(id, timing);
    try {
      for (;;) {
        timing.attempts++;
        try {
          await appendStore.append(stream.id, stream.version, [{ id, type: EVENT_TYPE, data: eventData(seq++) }], METADATA);
          stream.version++;
          timing.appended = now();
          return;
        } catch (error) {
          if (error instanceof DuplicateEventError) {
            // An earlier attempt did land after all.
            stream.version = await store.streamVersion(stream.id);
            timing.appended = now();
            return;
          }
          failures.add(errorKind(error));
          if (timing.attempts >= 5 || aborted) {
            timing.failed = true;
            return;
          }
          retried++;
          stream.version =
            error instanceof ConcurrencyConflictError
              ? error.actualVersion
              : await store.streamVersion(stream.id).catch(() => stream.version);
        }
      }
    } finally {
      idle.push(stream);
    }
  };
  const total = Math.round(CONFIG.latencyRate * CONFIG.latencySeconds);
  const interval = 1000 / CONFIG.latencyRate;
  const inFlight = new Set<Promise<void>>();
  let maxInFlight = 0;
  appendStatements.recording = true;
  const poolQueued: number[] = [];
  const poolSampler = setInterval(() => poolQueued.push(poolStats(sourceDb).queued), 5);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const before = await innodbStatus(infra);
  const cpu = process.cpuUsage();
  const machineCpu = cpuSample();
  const subscriberCpu = subscriber.pid ? processCpu([subscriber.pid]) : 0;
  const t0 = now();
  let launched = 0;
  while (launched < total && !aborted) {
    const due = Math.min(total, Math.floor((now() - t0) / interval) + 1);
    while (launched < due) {
      launched++;
      const append = appendOne();
      inFlight.add(append);
      maxInFlight = Math.max(maxInFlight, inFlight.size);
      void append.finally(() => inFlight.delete(append));
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const appendSeconds = (now() - t0) / 1000;
  const all = [...timings.values()];
  const appended = all.filter((timing) => timing.appended !== undefined);
  await waitUntil(
    () => appended.every((timing) => (timing.remote !== undefined || !CONFIG.crossService) && timing.local !== undefined),
    CONFIG.drainTimeoutSeconds * 1000,
    10,
  );
  const used = process.cpuUsage(cpu);
  const machineUsed = cpuSince(machineCpu);
  const subscriberUsed = (subscriber.pid ? processCpu([subscriber.pid]) : 0) - subscriberCpu;
  const elapsed = (now() - t0) / 1000;
  clearInterval(poolSampler);
  appendStatements.recording = false;
  loopDelay.disable();
  const after = await innodbStatus(infra);
  await relay.stop();
  await projections.stop();
  await subscriber.stop();
  const log = await logHoles(sourceDb);

  const defined = (values: (number | undefined)[]) => values.filter((value): value is number => value !== undefined);
  const localDist = distribution(defined(appended.map((t) => (t.local === undefined ? undefined : t.local - t.start))));
  const tail = appended.filter((t) => t.local !== undefined && t.local - t.start >= localDist.p99);
  const mean = (values: number[]) => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : NaN);
  const split = (from: keyof Timing, to: keyof Timing) =>
    defined(appended.map((t) => (t[from] === undefined || t[to] === undefined ? undefined : Math.max(0, (t[to] as number) - (t[from] as number)))));
  return {
    offered: total,
    appended: appended.length,
    failed: all.filter((timing) => timing.failed).length,
    retried,
    failures,
    achievedRate: appended.length / appendSeconds,
    appendSeconds,
    remote: distribution(defined(appended.map((t) => (t.remote === undefined ? undefined : t.remote - t.start)))),
    local: localDist,
    missingRemote: appended.filter((timing) => timing.remote === undefined).length,
    missingLocal: appended.filter((timing) => timing.local === undefined).length,
    appendDuration: distribution(appended.map((t) => t.appended! - t.start)),
    appendStatements: appendStatements.distributions(),
    relayPickup: distribution(
      defined(appended.map((t) => (t.publishCalled === undefined ? undefined : Math.max(0, t.publishCalled - t.appended!)))),
    ),
    publishAck: distribution(
      defined(appended.map((t) => (t.published === undefined ? undefined : t.published - t.publishCalled!))),
    ),
    publishToRemote: distribution(
      defined(appended.map((t) => (t.remote === undefined || t.publishCalled === undefined ? undefined : t.remote - t.publishCalled))),
    ),
    relayBatches,
    localTransactions: localTx.length,
    localTxMs: distribution(localTx),
    remoteTransactions: remoteTx.length,
    remoteTxMs: distribution(remoteTx),
    localPickup: distribution(split('appended', 'localSeen')),
    localHeld: distribution(split('localSeen', 'localTxCalled')),
    localTxOpen: distribution(split('localTxCalled', 'localBatch')),
    localApply: distribution(split('localBatch', 'local')),
    localTail: {
      count: tail.length,
      append: mean(tail.map((t) => t.appended! - t.start)),
      pickup: mean(tail.map((t) => Math.max(0, (t.localSeen ?? t.appended!) - t.appended!))),
      held: mean(defined(tail.map((t) => (t.localSeen === undefined || t.localTxCalled === undefined ? undefined : Math.max(0, t.localTxCalled - t.localSeen))))),
      txOpen: mean(defined(tail.map((t) => (t.localTxCalled === undefined || t.localBatch === undefined ? undefined : t.localBatch - t.localTxCalled)))),
      apply: mean(tail.map((t) => t.local! - (t.localBatch ?? t.local!))),
      queuedAtTx: mean(defined(tail.map((t) => localTxQueued.get(t.local!)))),
    },
    localTxStartMs: distribution(localTxStart),
    checkpointReadMs: distribution(checkpointReadMs),
    checkpointEnsureMs: distribution(checkpointEnsureMs),
    feedReadMs: distribution(feedReadMs),
    localBatchSize: distribution(batchSizes),
    feedReads,
    feedReadsAtHole,
    poolQueued: distribution(poolQueued),
    serverCpuPercent: (machineUsed.server / elapsed) * 100,
    machineBusyPercent: (machineUsed.busy / machineUsed.total) * 100,
    natsCpuPercent: (machineUsed.nats / elapsed) * 100,
    subscriberCpuPercent: (subscriberUsed / elapsed) * 100,
    othersCpuPercent:
      ((machineUsed.busy - machineUsed.server - machineUsed.nats - subscriberUsed - (used.user + used.system) / 1e6) / elapsed) * 100,
    cpuWaitPercent: (machineUsed.cpuWait / elapsed) * 100,
    loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    holes: log.holes,
    cpuPercent: ((used.user + used.system) / 1e6 / elapsed) * 100,
    deadlocks: after.Innodb_deadlocks - before.Innodb_deadlocks,
    maxInFlight,
    remoteRate: applyRate(defined(appended.map((t) => t.remote))),
    localRate: applyRate(defined(appended.map((t) => t.local))),
  };
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const started = now();
  const c = CONFIG.concurrency;
  process.stdout.write(
    `ContainerOps event store benchmark — run ${RUN_ID} (databases ${DB_PREFIX}_*, subjects ${PREFIX}.*)\n` +
      `parameters: ${CONFIG.phaseSeconds}s each of raw inserts and appends per concurrency, in ${CONFIG.rounds} alternating slices (+${CONFIG.warmupSeconds}s warm-up each), ` +
      `concurrency 1 and ${c}, ${CONFIG.streamsPerWorker} streams per worker; conflict path ${CONFIG.conflictSeconds}s at ${c} with hot-stream share ${CONFIG.conflictShare}; ` +
      `payload ${CONFIG.payloadBytes} B; NATS ${fmt(CONFIG.natsAsyncCount)} async (${CONFIG.natsInflight} in flight) + ` +
      `${CONFIG.natsSyncSeconds}s sync; relay backlog ${fmt(CONFIG.relayEvents)}; latency ${fmt(CONFIG.latencyRate)}/s for ` +
      `${CONFIG.latencySeconds}s over ${CONFIG.latencyStreams} streams\n`,
  );
  const infra = await setUpInfra();
  const loadAtStart = os.loadavg()[0];
  process.stdout.write(
    `servers: MariaDB ${infra.mysqlVersion}, NATS ${infra.natsVersion}; ${os.cpus().length} cores, load average ${loadAtStart.toFixed(2)}\n\n`,
  );

  // 1 + 2: raw inserts and appends, interleaved so that each pair sees the same noise.
  const { db: svcDb, name: svcName } = await openDatabase(infra, 'svc');
  await svcDb.query('CREATE TABLE bench_raw_events LIKE co_events');
  await warmPool(svcDb, c); // the raw side's connections are open before it starts, too
  progress(`raw inserts vs appends, 1 connection (${CONFIG.rounds} alternating rounds)`);
  const one = await compareAt(infra, 1, await rawInsertWorkload(svcName, 1), appendWorkload(svcDb, 1, 0));
  progress(`raw inserts vs appends, ${c} connections (${CONFIG.rounds} alternating rounds)`);
  const many = await compareAt(infra, c, await rawInsertWorkload(svcName, c), appendWorkload(svcDb, c, 0));
  const [raw1, app1, rawN, appN] = [one.raw, one.append, many.raw, many.append];
  const ratioLog = await logHoles(svcDb);
  let conflict: ThroughputResult | undefined;
  if (CONFIG.conflictSeconds > 0 && c > 1 && CONFIG.conflictShare > 0) {
    progress(`appends with ${Math.round(CONFIG.conflictShare * 100)}% on one shared stream, ${c} connections (conflict path)`);
    const workload = appendWorkload(svcDb, c, CONFIG.conflictShare);
    const tally = new Tally();
    await slice(infra, c, workload, CONFIG.conflictSeconds, tally);
    conflict = tally.result(workload.notes(), workload.statements);
  }
  const svcLog = await logHoles(svcDb);

  // 3: NATS baseline, relay drain, hole demo.
  progress('JetStream raw publishes');
  const nats = await natsBaseline(infra);
  const relayBus = await connectBus('co-bench-relay');
  progress(`relay draining ${fmt(CONFIG.relayEvents)} events`);
  const relay = await relayDrain(infra, relayBus);
  let gap: GapDemoResult | undefined;
  if (CONFIG.gapDemoEvents > 0) {
    progress('relay draining a backlog with a 2-event append and a lost race');
    gap = await gapDemo(infra, relayBus);
  }

  // 4: latency.
  progress(`latency: ${fmt(CONFIG.latencyRate)} appends/s for ${CONFIG.latencySeconds}s`);
  const lat = await latencyPhase(infra, relayBus);

  if (aborted) return;

  // Report.
  const lines: string[] = [];
  const row = (label: string, value: string, note = '') => lines.push(`  ${label.padEnd(50)} ${value.padStart(16)}   ${note}`);
  const phaseNote = (r: ThroughputResult) => {
    const parts = [`node CPU ${fmt(r.cpuPercent)}%`, `MariaDB CPU ${fmt(r.serverCpuPercent)}%`, `machine ${fmt(r.machineBusyPercent)}% busy`];
    if (r.failures.total) parts.push(`failed ${fmt(r.failures.total)}: ${r.failures}`);
    if (r.deadlocks) parts.push(`InnoDB deadlocks ${fmt(r.deadlocks)}`);
    return parts.join('; ');
  };
  const perOp = (r: ThroughputResult, unit: string) => {
    const statements = r.statements.map(([kind, d]) => `${kind} p50 ${fmt(d.p50, 2)} / p99 ${fmt(d.p99, 1)} ms`).join(', ');
    return (
      `per ${unit}: p50 ${fmt(r.opMs.p50, 2)} / p99 ${fmt(r.opMs.p99, 1)} ms, MariaDB CPU ${fmt(r.serverCpuMsPerOp, 3)} ms` +
      (statements ? `; ${statements}` : '')
    );
  };
  lines.push(
    '',
    '=== Results ===',
    '',
    'MariaDB (baseline A vs EventStore.append: one raw single-row INSERT vs one event per append with an explicit',
    'expected version; each worker on its own connection and its own streams, no shared stream; raw and append',
    `slices alternate ${CONFIG.rounds}x per concurrency; raw connections set up like the pool's: READ COMMITTED, utf8mb4_bin)`,
  );
  row('raw INSERT autocommit, 1 connection', `${fmt(raw1.rate)} rows/s`, phaseNote(raw1));
  row('', '', perOp(raw1, 'INSERT'));
  row('EventStore.append, 1 connection', `${fmt(app1.rate)} events/s`, phaseNote(app1));
  row('', '', perOp(app1, 'append'));
  row(`raw INSERT autocommit, ${c} connections`, `${fmt(rawN.rate)} rows/s`, phaseNote(rawN));
  row('', '', perOp(rawN, 'INSERT'));
  row(`EventStore.append, ${c} connections`, `${fmt(appN.rate)} events/s`, phaseNote(appN));
  row('', '', perOp(appN, 'append'));
  for (const note of [...app1.notes, ...appN.notes]) row('', '', note);
  row('appends/raw inserts (1 conn)', ratio(app1.rate, raw1.rate));
  row(`appends/raw inserts (${c} conns)`, ratio(appN.rate, rawN.rate));
  row(
    'MariaDB CPU per append / per raw INSERT',
    `${ratio(app1.serverCpuMsPerOp, raw1.serverCpuMsPerOp)} / ${ratio(appN.serverCpuMsPerOp, rawN.serverCpuMsPerOp)}`,
    `at 1 / ${c} connections`,
  );
  row('positions burnt (holes) during the comparison', fmt(ratioLog.holes), `of ${fmt(ratioLog.head)} allocated`);
  if (conflict) {
    row(
      `conflict path: append, ${c} conns, ${Math.round(CONFIG.conflictShare * 100)}% on 1 stream`,
      `${fmt(conflict.rate)} events/s`,
      `not in the ratio; ${phaseNote(conflict)}`,
    );
    for (const note of conflict.notes) row('', '', note);
    row(
      'positions burnt in co_events (holes), all',
      fmt(svcLog.holes),
      `of ${fmt(svcLog.head)} allocated (a lost race fails on the unique key after taking a position)`,
    );
  }
  lines.push('', `NATS JetStream (baseline B: same ${fmt(nats.payloadBytes)} B payload, headers and Nats-Msg-Id as the relay)`);
  row(`raw publish, async ${CONFIG.natsInflight} in flight`, `${fmt(nats.asyncRate)} msg/s`, `${fmt(nats.asyncCount)} messages`);
  row('raw publish, one at a time', `${fmt(nats.syncRate)} msg/s`, `${fmt(nats.syncCount)} messages`);
  row('raw publish, chunks of 100 awaited (relay pattern)', `${fmt(nats.chunkedRate)} msg/s`, `${fmt(CONFIG.natsAsyncCount)} messages`);
  row(
    `OutboxRelay draining a backlog of ${fmt(relay.events)} events`,
    `${fmt(relay.rate)} events/s`,
    `${relay.seconds.toFixed(2)} s, node CPU ${fmt(relay.cpuPercent)}%, ${fmt(relay.inStream)} in stream`,
  );
  row('relay/raw async publish', ratio(relay.rate, nats.asyncRate));
  row('relay/raw one-at-a-time publish', ratio(relay.rate, nats.syncRate));
  row('relay/raw chunks of 100', ratio(relay.rate, nats.chunkedRate));
  if (gap) {
    row(
      `relay draining ${fmt(gap.events)} events with a hole-maker`,
      `${gap.seconds.toFixed(2)} s`,
      `mid-log: one 2-event append + ${fmt(gap.racesLost)} lost same-stream race(s) -> ${fmt(gap.holes)} hole(s); ` +
        `first ${fmt(Math.floor((gap.events - gap.middle) / 2))} events out after ${fmt(gap.firstHalfMs)} ms`,
    );
  }
  lines.push(
    '',
    `Latency append start -> applied (commit of the read-model transaction), ${fmt(CONFIG.latencyRate)}/s offered for ${CONFIG.latencySeconds} s;`,
    CONFIG.crossService ? 'both paths run at the same time on the same appends' : 'the local path only (BENCH_CROSS_SERVICE=0)',
  );
  row(
    'achieved append rate',
    `${fmt(lat.achievedRate)} events/s`,
    `${fmt(lat.appended)} of ${fmt(lat.offered)} appended in ${lat.appendSeconds.toFixed(2)} s; ${fmt(lat.retried)} retries` +
      (lat.failures.total ? ` (${lat.failures})` : '') +
      `; ${fmt(lat.failed)} given up; InnoDB deadlocks ${fmt(lat.deadlocks)}; holes ${fmt(lat.holes)}; ` +
      `up to ${fmt(lat.maxInFlight)} appends in flight`,
  );
  row(
    '  machine during the latency phase',
    `${fmt(lat.machineBusyPercent)}% busy`,
    `of ${os.cpus().length} cores, tasks waiting for a CPU ${fmt(lat.cpuWaitPercent)}% of the time; in % of one core: ` +
      `this process (load, relay, projection) ${fmt(lat.cpuPercent)}, MariaDB ${fmt(lat.serverCpuPercent)}, ` +
      `NATS ${fmt(lat.natsCpuPercent)}, subscriber ${fmt(lat.subscriberCpuPercent)}, everything else on the machine ${fmt(lat.othersCpuPercent)}`,
  );
  row(
    '  event-loop delay of this process',
    `p99 ${fmt(lat.loopDelayMs.p99, 1)} ms`,
    `p50 ${fmt(lat.loopDelayMs.p50, 1)}, max ${fmt(lat.loopDelayMs.max, 1)} ms (every timing here includes it)`,
  );
  const atLeast = (missing: number) => (missing > 0 ? '>' : '');
  lines.push(
    '',
    '  [goal path] local projection: ProjectionRunner + applyBatch (one multi-row INSERT per batch), same database' +
      (CONFIG.projectionPool === 'own' ? ', DIAGNOSIS: runner on a pool of its own (BENCH_PROJECTION_POOL=own)' : ''),
  );
  row('append -> local read model committed', `p99 ${atLeast(lat.missingLocal)}${fmt(lat.local.p99, 1)} ms`, fmtDist(lat.local) +
    (lat.missingLocal ? `; ${fmt(lat.missingLocal)} not applied within ${CONFIG.drainTimeoutSeconds}s` : ''));
  row('  where the time goes: append()', `p50 ${fmt(lat.appendDuration.p50, 1)} ms`, fmtDist(lat.appendDuration));
  for (const [kind, d] of lat.appendStatements) {
    row(`    its ${kind}`, `p50 ${fmt(d.p50, 1)} ms`, `${fmtDist(d)} (each statement checks a connection out of the service pool)`);
  }
  row('  append returned -> read by the projection feed', `p50 ${fmt(lat.localPickup.p50, 1)} ms`, fmtDist(lat.localPickup));
  row('  read -> projection transaction asked for', `p50 ${fmt(lat.localHeld.p50, 1)} ms`, fmtDist(lat.localHeld) + ' (waiting at a hole, runner loop)');
  row('  asked for -> applyBatch', `p50 ${fmt(lat.localTxOpen.p50, 1)} ms`, fmtDist(lat.localTxOpen) + ' (pool checkout, START TRANSACTION, checkpoint FOR UPDATE)');
  row('  applyBatch -> commit', `p50 ${fmt(lat.localApply.p50, 1)} ms`, fmtDist(lat.localApply) + ' (multi-row INSERT, checkpoint save, COMMIT)');
  row(
    `  the slowest 1% (${fmt(lat.localTail.count)} events), mean of each part`,
    `${fmt(lat.localTail.append + lat.localTail.pickup + lat.localTail.held + lat.localTail.txOpen + lat.localTail.apply, 1)} ms`,
    `append ${fmt(lat.localTail.append, 1)} + to read ${fmt(lat.localTail.pickup, 1)} + held ${fmt(lat.localTail.held, 1)} + ` +
      `tx open ${fmt(lat.localTail.txOpen, 1)} + apply/commit ${fmt(lat.localTail.apply, 1)} ms; ` +
      `${fmt(lat.localTail.queuedAtTx, 1)} requests queued for a pool connection when their transaction was asked for`,
  );
  row(
    '  projection transactions',
    fmt(lat.localTransactions),
    `batch size p50 ${fmt(lat.localBatchSize.p50)} / max ${fmt(lat.localBatchSize.max)}, ${fmt(lat.localRate)} events/s first->last apply; ` +
      `duration p50 ${fmt(lat.localTxMs.p50, 2)} ms, p99 ${fmt(lat.localTxMs.p99, 1)} ms, max ${fmt(lat.localTxMs.max, 1)} ms`,
  );
  row(
    '  runner loop: checkpoint ensure, read, feed read',
    `p99 ${fmt(lat.checkpointEnsureMs.p99, 1)}, ${fmt(lat.checkpointReadMs.p99, 1)}, ${fmt(lat.feedReadMs.p99, 1)} ms`,
    `${fmt(lat.checkpointEnsureMs.count)} ensure (INSERT IGNORE, once per catchUp), ${fmt(lat.checkpointReadMs.count)} checkpoint reads, ` +
      `${fmt(lat.feedReadMs.count)} feed reads; p50 ${fmt(lat.checkpointEnsureMs.p50, 2)}, ${fmt(lat.checkpointReadMs.p50, 2)}, ${fmt(lat.feedReadMs.p50, 2)} ms; then the transaction ` +
      `(START, checkpoint FOR UPDATE, INSERT, checkpoint save, COMMIT): p50 ${fmt(lat.localTxMs.p50, 2)}, p99 ${fmt(lat.localTxMs.p99, 1)} ms`,
  );
  row(
    '  projection feed reads that stopped at a hole',
    `${fmt(lat.feedReadsAtHole)} of ${fmt(lat.feedReads)}`,
    'a position allocated by an append that has not committed yet (or burnt: waited up to the 250 ms grace)',
  );
  row(
    '  service pool (20 conns): requests queued',
    `p99 ${fmt(lat.poolQueued.p99)}`,
    `sampled every 5 ms: p50 ${fmt(lat.poolQueued.p50)}, max ${fmt(lat.poolQueued.max)}; at a projection transaction's start: ` +
      `its pool checkout + START TRANSACTION p50 ${fmt(lat.localTxStartMs.p50, 1)} / p99 ${fmt(lat.localTxStartMs.p99, 1)} ms`,
  );
  lines.push(
    '',
    `  [informational] cross-service path: relay -> JetStream -> subscribeToEvents in ${CONFIG.subscriberInProcess ? 'this' : 'another'} process, second database`,
  );
  if (!CONFIG.crossService) lines.push('  skipped (BENCH_CROSS_SERVICE=0): no subscriber ran; the relay did');
  else row('append -> remote read model committed', `p99 ${atLeast(lat.missingRemote)}${fmt(lat.remote.p99, 1)} ms`, fmtDist(lat.remote) +
    (lat.missingRemote ? `; ${fmt(lat.missingRemote)} not applied within ${CONFIG.drainTimeoutSeconds}s` : ''));
  row('  append returned -> relay publish()', `p50 ${fmt(lat.relayPickup.p50, 1)} ms`, fmtDist(lat.relayPickup));
  row('  relay publish() -> JetStream ack', `p50 ${fmt(lat.publishAck.p50, 1)} ms`, fmtDist(lat.publishAck));
  row('  relay publish() -> subscriber commit', `p50 ${fmt(lat.publishToRemote.p50, 1)} ms`, fmtDist(lat.publishToRemote));
  row(
    '  relay batches (checkpoint writes)',
    fmt(lat.relayBatches),
    `${(lat.appended / Math.max(1, lat.relayBatches)).toFixed(1)} events per batch`,
  );
  row(
    '  subscriber transactions',
    fmt(lat.remoteTransactions),
    `${(lat.appended / Math.max(1, lat.remoteTransactions)).toFixed(1)} events each (subscribeToEvents handleBatch); ${fmt(lat.remoteRate)} events/s first->last apply; duration p50 ${fmt(lat.remoteTxMs.p50, 2)} ms, p99 ${fmt(lat.remoteTxMs.p99, 2)} ms`,
  );

  const goal = (label: string, value: string, met: boolean) => row(label, value, met ? 'MET' : 'NOT MET');
  const rateOk = lat.achievedRate >= 0.95 * CONFIG.latencyRate;
  lines.push('', 'Goals');
  goal(`appends >= ${CONFIG.goalAppendRatio * 100}% of raw inserts, 1 conn`, ratio(app1.rate, raw1.rate), app1.rate >= CONFIG.goalAppendRatio * raw1.rate);
  goal(`appends >= ${CONFIG.goalAppendRatio * 100}% of raw inserts, ${c} conns`, ratio(appN.rate, rawN.rate), appN.rate >= CONFIG.goalAppendRatio * rawN.rate);
  goal(
    `append->projection p99 <= ${CONFIG.goalP99Ms} ms at ${fmt(CONFIG.latencyRate)}/s (local projection)`,
    `${atLeast(lat.missingLocal)}${fmt(lat.local.p99, 1)} ms`,
    lat.missingLocal === 0 && lat.local.p99 <= CONFIG.goalP99Ms && rateOk,
  );
  if (CONFIG.crossService) row(
    `  informational: cross-service path p99 vs ${CONFIG.goalP99Ms} ms`,
    `${atLeast(lat.missingRemote)}${fmt(lat.remote.p99, 1)} ms`,
    `not a goal (${lat.missingRemote === 0 && lat.remote.p99 <= CONFIG.goalP99Ms && rateOk ? 'within' : 'over'} ${CONFIG.goalP99Ms} ms)`,
  );
  lines.push('', `reference (shared/ENVIRONMENT.md): JetStream ~28,000 async / ~10,000 sync msg/s; MariaDB ~3,400 (1 conn) / ~9,300 (16 conns) rows/s`);
  lines.push(
    `machine load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (shared machine: compare figures of one run only)`,
  );
  lines.push(`total run time ${((now() - started) / 1000).toFixed(1)} s (before cleanup)`);
  process.stdout.write(lines.join('\n') + '\n');
}

main()
  .then(
    () => 0,
    (error: unknown) => {
      if (aborted) return 130;
      process.stderr.write(`benchmark failed: ${(error as Error)?.stack ?? String(error)}\n`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanupAll();
    process.stdout.write(`cleaned up: databases ${DB_PREFIX}_* dropped, streams ${STREAM_PREFIX}* deleted\n`);
    process.exit(code);
  });
