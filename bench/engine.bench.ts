/**
 * Engine benchmark: pilotage's workflow engine against the real MariaDB, NATS JetStream
 * and Podman.
 *
 *  1. Overhead: a workflow of 20 sequential busybox `echo` actions run through pilotage
 *     (REST: POST /workflows, POST /runs, GET /runs/{id} polled every 20 ms) against the
 *     same 20 containers run directly through the same Docker Engine API adapter
 *     (DockerRuntime: create, start, logs follow, wait, remove, one after another), in
 *     alternating rounds of the same run of the benchmark. Both sides' runtime calls go
 *     through the same timing wrapper, so that the report can tell the container
 *     engine's time from pilotage's own.
 *  2. Scheduling: the same service (Nest module, projections, relay, engine, MariaDB,
 *     NATS) with the CONTAINER_RUNTIME provider replaced by a no-op runtime whose
 *     containers exit at once: tasks/s over workflows of 200 sequential tasks with one
 *     and with several concurrent runs, and the latency from one task's end (the no-op
 *     wait resolving) to the next task's start (the no-op start call), with where that
 *     time goes. Then, apart and not in the figures, a diagnostic pass with V8's CPU
 *     profiler and call counters, and the CPU cost of the per-event work measured on
 *     the real event stream of a finished run.
 *
 * Run with `npm run bench:engine`; figures can be tuned with BENCH_* variables (see
 * CONFIG). It creates its own databases (cobench_engine_<hex>_*), JetStream streams
 * (BENCH<hex>_*) and containers (cobench-<hex>-*) and removes them at the end, also
 * on failure or Ctrl-C. It exits 0 whether the goals are met or not.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { connect as natsConnect, type JetStreamManager, type NatsConnection } from 'nats';
import { DockerRuntime } from '../services/pilotage/src/runtime/docker.runtime';
import { CONTAINER_LABELS, type ContainerSpec } from '../services/pilotage/src/runtime/container-runtime';
import * as runPlanner from '../services/pilotage/src/runs/run-planner';
import * as runState from '../services/pilotage/src/runs/run-state';
import {
  call,
  createWorkflow,
  pollUntilFinished,
  sequentialStages,
  ServiceProbe,
  startBenchPilotage,
  startRun,
  workflowDocument,
  type AppendRecord,
  type BenchPilotage,
} from './engine-pilotage';
import { measureMicroCosts, type MicroCosts } from './engine-microcosts';
import { formatSummary, inclusiveOf, Profiler, type ProfileSummary, summarize } from './engine-profile';
import {
  cleanupAll,
  cleanupMark,
  cleanupTo,
  cpuPercentSince,
  cpuSample,
  defer,
  distribution,
  envInt,
  envIntList,
  envNumber,
  fmt,
  fmtCpu,
  fmtDist,
  installAbortHandlers,
  median,
  now,
  progress,
  ratio,
  sleep,
  state,
  withTimeout,
  type Dist,
} from './engine-support';
import { TimedRuntime, type RuntimeCall, type RuntimeMethod } from './engine-timed-runtime';
import { NoopRuntime, type NoopTimes } from './noop-runtime';

// ---------------------------------------------------------------------------------------
// Parameters

const PARTS = new Set((process.env.BENCH_PARTS ?? 'overhead,scheduling').split(',').map((part) => part.trim()));

const CONFIG = {
  mysqlUrl: (process.env.BENCH_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306').replace(/\/+$/, ''),
  natsUrl: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
  podmanSocket: process.env.BENCH_PODMAN_SOCKET ?? process.env.CO_TEST_PODMAN_SOCKET ?? '/run/co-podman.sock',
  image: process.env.BENCH_IMAGE ?? 'localhost/co-busybox:1',
  /** Network mode of the task containers on both sides ('' = the container engine's default). */
  network: process.env.BENCH_NETWORK ?? 'host',
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  overheadTasks: envInt('BENCH_OVERHEAD_TASKS', 20, 1),
  /** Podman detects exits on a ~250 ms grid, so single rounds are noisy: 5 by default. */
  overheadRounds: envInt('BENCH_OVERHEAD_ROUNDS', 5, 1),
  /** Uncounted warm-up: a workflow of this many tasks on each side first (0: none). */
  overheadWarmupTasks: envInt('BENCH_OVERHEAD_WARMUP_TASKS', 3),
  pollMs: envInt('BENCH_POLL_MS', 20, 1),
  /**
   * Podman 4.3 sometimes never ends a logs follow (or loses the exit code) when the
   * follow starts right after the start: a side that takes longer than this is stopped,
   * the round is recorded as invalid and run again (at most 3 extra rounds).
   */
  roundTimeoutMs: envInt('BENCH_ROUND_TIMEOUT_MS', 60_000, 1000),
  /** Pause after each side of a round (the last removal, projections and Podman settle). */
  settleMs: envInt('BENCH_SETTLE_MS', 1000),
  schedTasks: envInt('BENCH_SCHED_TASKS', 200, 2),
  /** Concurrent runs of each scheduling phase, e.g. `1,4`: one phase per value. */
  schedRuns: envIntList('BENCH_SCHED_RUNS', [1, 4]),
  /** `[COUT] n = …` lines each no-op container prints (declared as an output). */
  schedLines: envInt('BENCH_SCHED_LINES', 1),
  schedWarmupTasks: envInt('BENCH_SCHED_WARMUP_TASKS', 20),
  /** 0: no diagnostic pass (profiler, call counters) after the scheduling phases. */
  profile: process.env.BENCH_PROFILE !== '0',
  profileTop: envInt('BENCH_PROFILE_TOP', 14, 1),
  goalRatio: envNumber('BENCH_GOAL_RATIO', 1.15),
  goalTasksPerSecond: envNumber('BENCH_GOAL_TASKS_PER_SECOND', 300),
  goalP99Ms: envNumber('BENCH_GOAL_P99_MS', 20),
};

const RUN_ID = randomBytes(3).toString('hex');
/** Subject prefix: streams are named BENCH<hex>_<SERVICE>. */
const PREFIX = `bench${RUN_ID}`;
const STREAM_PREFIX = `${PREFIX.toUpperCase()}_`;
const DB_PREFIX = `cobench_engine_${RUN_ID}`;
/** `co.managed` label of the containers the direct side creates. */
const DIRECT_LABEL = `cobench-${RUN_ID}`;

const logger: Logger = pino({ level: CONFIG.logLevel, base: { service: 'bench' } }, pino.destination(2));

installAbortHandlers();

// ---------------------------------------------------------------------------------------
// Infrastructure

interface Infra {
  admin: Connection;
  mysqlVersion: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  natsVersion: string;
}

async function setUpInfra(): Promise<Infra> {
  const url = new URL(CONFIG.mysqlUrl.replace(/^mariadb:/, 'mysql:'));
  const admin = await createConnection({
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    connectTimeout: 5000,
  });
  defer('close MariaDB admin connection', () => admin.end());
  const [versionRows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  const nc = await natsConnect({ servers: CONFIG.natsUrl.split(','), name: 'co-bench-engine-admin' });
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

/** Pilotage on database <DB_PREFIX>_<suffix>; closed and dropped by the part's cleanup. */
async function pilotageOn(infra: Infra, suffix: string, runtime: BenchPilotageRuntime, engineEnv: Record<string, string>): Promise<BenchPilotage> {
  const database = `${DB_PREFIX}_${suffix}`;
  defer(`drop database ${database}`, () => infra.admin.query(`DROP DATABASE IF EXISTS \`${database}\``));
  const pilotage = await startBenchPilotage({
    database,
    mysqlUrl: CONFIG.mysqlUrl,
    natsUrl: CONFIG.natsUrl,
    subjectPrefix: PREFIX,
    runtime,
    engineEnv,
    logger: logger.child({ service: 'pilotage' }),
  });
  defer(`stop pilotage (${suffix})`, () => pilotage.service.close());
  return pilotage;
}

type BenchPilotageRuntime = Parameters<typeof startBenchPilotage>[0]['runtime'];

// ---------------------------------------------------------------------------------------
// Part 1: overhead against direct container runs

interface RoundSide {
  wallMs: number;
  calls: RuntimeCall[];
  /** Time within the round with no container-engine request in flight. */
  idleMs: number;
  /** Median, over tasks, of the time from a container's wait answer to the next container's first call. */
  gapMs: Dist;
}

interface PilotageRound extends RoundSide {
  runId: string;
  /** RunStarted → RunSucceeded, as recorded by the engine. */
  recordedMs: number;
  /** RunRequested → RunSucceeded, as recorded. */
  requestedMs: number;
  /** POST /runs answered after. */
  postMs: number;
  polls: number;
  appends: AppendRecord[];
  statements: Map<string, { count: number; ms: number }>;
  transactions: { count: number; ms: number };
  logWrites: number;
  logWriteMs: number;
}

/** A side that did not complete normally (a Podman hang or error): the round is run again. */
class InvalidRound extends Error {}

interface OverheadResult {
  rounds: { direct: RoundSide; pilotage: PilotageRound; order: string }[];
  invalid: string[];
  network: string;
  podmanVersion: string;
}

function echoCommand(index: number): string[] {
  return ['echo', `hello from task ${index + 1}`];
}

/** The direct side's container: what the engine would create for the task (same image, command, network, labels and env keys). */
function directSpec(round: string, index: number, tasks: number): ContainerSpec {
  const runId = randomUUID();
  const env: Record<string, string> = {
    CO_DATA: '{}',
    CO_RUN_ID: runId,
    CO_BUILD_ID: '1',
    CO_WORKFLOW: 'engine-overhead',
    CO_WORKFLOW_ID: randomUUID(),
    CO_STAGE: 'echo',
    CO_ACTION: `t${index + 1}`,
    CO_TASK_ID: `echo.t${index + 1}`,
    CO_TASK_ATTEMPT: '1',
    CO_ACTION_TIMEOUT: String(14 * 86400),
    CO_EVENT_TOKEN: randomBytes(32).toString('base64url'),
  };
  const url = `http://127.0.0.1:1/api/v1/runs/${runId}/tasks/echo.t${index + 1}/attempts/1/events`;
  env.CO_EVENT_URL = url;
  for (const event of ['CO_COMPONENT_START', 'CO_TASK_START', 'CO_TASK_STATUS', 'CO_TASK_RESULT', 'CO_COMPONENT_STOP']) env[event] = `${url}/${event}`;
  return {
    name: `${DIRECT_LABEL}-${round}-${index + 1}-of-${tasks}`,
    image: CONFIG.image,
    command: echoCommand(index),
    env,
    labels: { [CONTAINER_LABELS.managed]: DIRECT_LABEL, [CONTAINER_LABELS.run]: runId, [CONTAINER_LABELS.task]: `echo.t${index + 1}`, [CONTAINER_LABELS.attempt]: '1' },
    network: CONFIG.network || undefined,
  };
}

/** Length of the union of the calls' intervals clipped to [from, to]. */
function busyMs(calls: RuntimeCall[], from: number, to: number): number {
  const intervals = calls
    .map((entry) => [Math.max(from, entry.began), Math.min(to, entry.ended)] as const)
    .filter(([began, ended]) => ended > began)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let start = -Infinity;
  let end = -Infinity;
  for (const [began, ended] of intervals) {
    if (began > end) {
      if (end > start) total += end - start;
      start = began;
      end = ended;
    } else end = Math.max(end, ended);
  }
  if (end > start) total += end - start;
  return total;
}

/** Per container in creation order: wait answered → the next container's first call. */
function gapsBetweenContainers(calls: RuntimeCall[]): number[] {
  const byContainer = new Map<string, RuntimeCall[]>();
  for (const entry of calls) {
    if (!entry.container) continue;
    let list = byContainer.get(entry.container);
    if (!list) byContainer.set(entry.container, (list = []));
    list.push(entry);
  }
  const containers = [...byContainer.values()]
    .map((list) => ({ first: Math.min(...list.map((entry) => entry.began)), waited: list.find((entry) => entry.method === 'wait')?.ended }))
    .sort((a, b) => a.first - b.first);
  const gaps: number[] = [];
  for (let index = 0; index + 1 < containers.length; index++) {
    const waited = containers[index].waited;
    if (waited !== undefined) gaps.push(containers[index + 1].first - waited);
  }
  return gaps;
}

interface ContainerTimeline {
  /** start answered → logs requested. */
  startToLogs: number;
  /** logs requested → follow stream ended. */
  logs: number;
  /** start answered → wait answered. */
  startToWait: number;
}

function timelines(calls: RuntimeCall[]): ContainerTimeline[] {
  const byContainer = new Map<string, RuntimeCall[]>();
  for (const entry of calls) {
    if (!entry.container) continue;
    let list = byContainer.get(entry.container);
    if (!list) byContainer.set(entry.container, (list = []));
    list.push(entry);
  }
  const result: ContainerTimeline[] = [];
  for (const list of byContainer.values()) {
    const start = list.find((entry) => entry.method === 'start');
    const logs = list.find((entry) => entry.method === 'logs');
    const wait = list.find((entry) => entry.method === 'wait');
    if (!start || !logs || !wait) continue;
    result.push({ startToLogs: logs.began - start.ended, logs: logs.ended - logs.began, startToWait: wait.ended - start.ended });
  }
  return result;
}

async function directRound(runtime: TimedRuntime, round: string, tasks: number): Promise<RoundSide> {
  runtime.reset();
  const began = now();
  const signal = AbortSignal.timeout(CONFIG.roundTimeoutMs);
  for (let index = 0; index < tasks; index++) {
    const spec = directSpec(round, index, tasks);
    let code: number;
    let lines = 0;
    try {
      const id = await runtime.create(spec);
      await runtime.start(id);
      for await (const line of runtime.logs(id, { follow: true, signal })) if (line.text) lines += 1;
      if (signal.aborted) throw new InvalidRound(`direct ${round}: the logs follow of container ${index + 1} had not ended after ${CONFIG.roundTimeoutMs} ms (Podman)`);
      code = await runtime.wait(id);
      await runtime.remove(id);
    } catch (error) {
      if (error instanceof InvalidRound) throw error;
      throw new InvalidRound(`direct ${round}: container ${index + 1}: ${(error as Error).message}`);
    }
    if (code !== 0 || lines !== 1) throw new InvalidRound(`direct ${round}: container ${index + 1} exited with ${code} after ${lines} log lines`);
  }
  const wallMs = now() - began;
  const calls = [...runtime.calls];
  return { wallMs, calls, idleMs: wallMs - busyMs(calls, began, began + wallMs), gapMs: distribution(gapsBetweenContainers(calls)) };
}

async function pilotageRound(pilotage: BenchPilotage, probe: ServiceProbe, runtime: TimedRuntime, workflowId: string, tasks: number): Promise<PilotageRound> {
  runtime.reset();
  probe.reset();
  probe.recording = true;
  const began = now();
  const run = await startRun(pilotage.url, workflowId);
  const postMs = now() - began;
  let finished: Awaited<ReturnType<typeof pollUntilFinished>>;
  try {
    finished = await pollUntilFinished(pilotage.url, run.id, CONFIG.pollMs, CONFIG.roundTimeoutMs);
  } catch (error) {
    probe.recording = false;
    await call(pilotage.url, 'POST', `/api/v1/runs/${run.id}/stop`).catch(() => undefined);
    throw new InvalidRound(`pilotage run ${run.id}: ${(error as Error).message}; stop requested`);
  }
  const { run: view, polls, seenAt } = finished;
  probe.recording = false;
  if (view.status !== 'succeeded') throw new InvalidRound(`pilotage run ${run.id} ended ${view.status}: ${view.reason}`);
  const done = view.stages.flatMap((stage: any) => stage.actions).filter((action: any) => action.status === 'succeeded').length;
  if (done !== tasks) throw new InvalidRound(`pilotage run ${run.id}: ${done} of ${tasks} tasks succeeded`);
  const calls = runtime.calls.filter((entry) => entry.began < seenAt);
  const wallMs = seenAt - began;
  const logWrites = probe.logWrites;
  return {
    runId: run.id,
    wallMs,
    calls,
    idleMs: wallMs - busyMs(calls, began, seenAt),
    gapMs: distribution(gapsBetweenContainers(calls)),
    recordedMs: Date.parse(view.finishedAt) - Date.parse(view.startedAt),
    requestedMs: Date.parse(view.finishedAt) - Date.parse(view.requestedAt),
    postMs,
    polls,
    appends: [...probe.appends],
    statements: new Map(probe.statements),
    transactions: { ...probe.transactions },
    logWrites: logWrites.length,
    logWriteMs: logWrites.reduce((sum, entry) => sum + entry.ended - entry.began, 0),
  };
}

async function removeContainers(runtime: DockerRuntime, labels: Record<string, string>): Promise<void> {
  for (const container of await runtime.list(labels)) await runtime.remove(container.id).catch(() => undefined);
}

async function overheadPart(infra: Infra): Promise<OverheadResult> {
  const mark = cleanupMark();
  try {
    const docker = new DockerRuntime({ socketPath: CONFIG.podmanSocket });
    await docker.ping();
    if (!(await docker.hasImage(CONFIG.image))) {
      throw new Error(
        `image ${CONFIG.image} is not on the container engine at ${CONFIG.podmanSocket}; the pilotage e2e tests import it (ensureBusyboxImage in services/pilotage/test/support/podman.ts)`,
      );
    }
    const version = await fetchPodmanVersion(docker);
    defer('remove the direct side\'s containers', () => removeContainers(docker, { [CONTAINER_LABELS.managed]: DIRECT_LABEL }));
    const direct = new TimedRuntime(docker);
    const wrapped = new TimedRuntime(new DockerRuntime({ dockerHost: `unix://${CONFIG.podmanSocket}` }));
    const engineEnv: Record<string, string> = { DOCKER_HOST: `unix://${CONFIG.podmanSocket}`, CO_PILOTAGE_STOP_GRACE_SECONDS: '2' };
    if (CONFIG.network) engineEnv.CO_PILOTAGE_CONTAINER_NETWORK = CONFIG.network;
    let engineId: string | undefined;
    defer('remove pilotage\'s leftover containers', async () => {
      if (engineId) await removeContainers(docker, { [CONTAINER_LABELS.managed]: engineId });
    });
    const pilotage = await pilotageOn(infra, 'overhead', wrapped, engineEnv);
    engineId = pilotage.engineId;
    const probe = new ServiceProbe(pilotage);
    const action = (index: number) => ({ image: CONFIG.image, pullPolicy: 'IfNotPresent', command: echoCommand(index) });
    const workflowId = await createWorkflow(
      pilotage.url,
      workflowDocument('engine-overhead', [{ name: 'echo', sequencing: 'sequence', actions: Array.from({ length: CONFIG.overheadTasks }, (_, index) => ({ name: `t${index + 1}`, ...action(index) })) }]),
    );
    if (CONFIG.overheadWarmupTasks > 0) {
      progress(`warm-up: ${CONFIG.overheadWarmupTasks} containers directly and a ${CONFIG.overheadWarmupTasks}-task run through pilotage (not counted)`);
      const warmId = await createWorkflow(
        pilotage.url,
        workflowDocument('engine-overhead-warmup', [{ name: 'echo', sequencing: 'sequence', actions: Array.from({ length: CONFIG.overheadWarmupTasks }, (_, index) => ({ name: `t${index + 1}`, ...action(index) })) }]),
      );
      try {
        await directRound(direct, 'warmup', CONFIG.overheadWarmupTasks);
        await pilotageRound(pilotage, probe, wrapped, warmId, CONFIG.overheadWarmupTasks);
      } catch (error) {
        if (!(error instanceof InvalidRound)) throw error;
        progress(`warm-up incomplete (not counted): ${error.message}`);
        await removeContainers(docker, { [CONTAINER_LABELS.managed]: DIRECT_LABEL });
      }
    }
    const rounds: OverheadResult['rounds'] = [];
    const invalid: string[] = [];
    for (let attempt = 1; rounds.length < CONFIG.overheadRounds && invalid.length <= 3 && !state.aborted; attempt++) {
      const round = rounds.length + 1;
      const directFirst = round % 2 === 1;
      progress(`round ${round}/${CONFIG.overheadRounds}: ${directFirst ? 'direct, then pilotage' : 'pilotage, then direct'} (${CONFIG.overheadTasks} containers each)`);
      let directSide: RoundSide | undefined;
      let pilotageSide: PilotageRound | undefined;
      try {
        for (const side of directFirst ? ['direct', 'pilotage'] : ['pilotage', 'direct']) {
          if (side === 'direct') directSide = await directRound(direct, `r${attempt}`, CONFIG.overheadTasks);
          else pilotageSide = await pilotageRound(pilotage, probe, wrapped, workflowId, CONFIG.overheadTasks);
          await sleep(CONFIG.settleMs);
        }
      } catch (error) {
        if (!(error instanceof InvalidRound)) throw error;
        invalid.push(error.message);
        progress(`round ${round} is invalid, it will be run again: ${error.message}`);
        await removeContainers(docker, { [CONTAINER_LABELS.managed]: DIRECT_LABEL });
        continue;
      }
      rounds.push({ direct: directSide!, pilotage: pilotageSide!, order: directFirst ? 'direct first' : 'pilotage first' });
    }
    if (rounds.length === 0) throw new Error(`no valid overhead round: ${invalid.join('; ')}`);
    return { rounds, invalid, network: CONFIG.network || "engine's default", podmanVersion: version };
  } finally {
    await cleanupTo(mark);
  }
}

async function fetchPodmanVersion(docker: DockerRuntime): Promise<string> {
  const engine = (docker as unknown as { engine: { call<T>(method: string, path: string): Promise<{ body: T }> } }).engine;
  try {
    const { body } = await engine.call<{ Version?: string; Components?: { Name: string; Version: string }[] }>('GET', '/version');
    return body.Components?.find((component) => /podman/i.test(component.Name))?.Version ?? body.Version ?? '?';
  } catch {
    return '?';
  }
}

function reportOverhead(result: OverheadResult, lines: string[]): { ratio: number } {
  const { rounds } = result;
  const tasks = CONFIG.overheadTasks;
  const row = (label: string, value: string, note = '') => lines.push(`  ${label.padEnd(44)} ${value.padStart(14)}   ${note}`);
  lines.push(
    '',
    `Part 1: overhead. ${tasks} sequential busybox echo containers (${CONFIG.image}, IfNotPresent, network ${result.network}, Podman ${result.podmanVersion})`,
    `through pilotage (POST /runs, GET /runs/{id} every ${CONFIG.pollMs} ms) vs directly through DockerRuntime (create, start, logs follow, wait, remove);`,
    `${rounds.length} rounds, the order alternating; wall = POST /runs sent -> the poll that saw "succeeded" (pilotage), first create -> last remove (direct).`,
    '',
    `  ${'round'.padEnd(16)} ${'direct wall'.padStart(12)} ${'pilotage wall'.padStart(14)} ${'ratio'.padStart(6)} ${'recorded start->end'.padStart(20)} ${'ratio'.padStart(6)} ${'requested->end'.padStart(15)} ${'POST'.padStart(6)}`,
  );
  for (const [index, round] of rounds.entries()) {
    lines.push(
      `  ${`${index + 1} (${round.order})`.padEnd(16)} ${`${fmt(round.direct.wallMs)} ms`.padStart(12)} ${`${fmt(round.pilotage.wallMs)} ms`.padStart(14)} ${ratio(round.pilotage.wallMs, round.direct.wallMs).padStart(6)} ` +
        `${`${fmt(round.pilotage.recordedMs)} ms`.padStart(20)} ${ratio(round.pilotage.recordedMs, round.direct.wallMs).padStart(6)} ${`${fmt(round.pilotage.requestedMs)} ms`.padStart(15)} ${`${fmt(round.pilotage.postMs)}`.padStart(4)} ms`,
    );
  }
  const directWall = median(rounds.map((round) => round.direct.wallMs));
  const pilotageWall = median(rounds.map((round) => round.pilotage.wallMs));
  const recorded = median(rounds.map((round) => round.pilotage.recordedMs));
  const roundRatios = rounds.map((round) => round.pilotage.wallMs / round.direct.wallMs);
  lines.push(
    `  ${'median'.padEnd(16)} ${`${fmt(directWall)} ms`.padStart(12)} ${`${fmt(pilotageWall)} ms`.padStart(14)} ${ratio(pilotageWall, directWall).padStart(6)} ` +
      `${`${fmt(recorded)} ms`.padStart(20)} ${ratio(recorded, directWall).padStart(6)}`,
    '',
  );
  row('pilotage/direct, medians of wall times', ratio(pilotageWall, directWall), `median of the per-round ratios ${fmt(median(roundRatios), 2)}, range ${fmt(Math.min(...roundRatios), 2)}-${fmt(Math.max(...roundRatios), 2)}`);
  row('per task: direct / pilotage', `${fmt(directWall / tasks)} / ${fmt(pilotageWall / tasks)} ms`, `pilotage adds ${fmt((pilotageWall - directWall) / tasks)} ms per task (medians)`);

  // Where the time goes: runtime calls on both sides, and time with no call in flight.
  const perMethod = (side: 'direct' | 'pilotage') => {
    const byMethod = new Map<RuntimeMethod, number[]>();
    for (const round of rounds) {
      for (const entry of round[side].calls) {
        let list = byMethod.get(entry.method);
        if (!list) byMethod.set(entry.method, (list = []));
        list.push(entry.ended - entry.began);
      }
    }
    return byMethod;
  };
  const directCalls = perMethod('direct');
  const pilotageCalls = perMethod('pilotage');
  lines.push('', '  container-engine calls per task (count, mean duration; logs = the follow stream from request to end):');
  const methods: RuntimeMethod[] = ['inspect', 'hasImage', 'create', 'start', 'logs', 'wait', 'remove', 'list', 'ping'];
  const callsOf = (map: Map<RuntimeMethod, number[]>, method: RuntimeMethod) => {
    const list = map.get(method) ?? [];
    if (list.length === 0) return '-';
    const mean = list.reduce((sum, value) => sum + value, 0) / list.length;
    return `${fmt(list.length / rounds.length / tasks, 1)} x ${fmt(mean, 1)} ms`;
  };
  const extraMs = (['inspect', 'hasImage'] as RuntimeMethod[]).reduce((sum, method) => sum + (pilotageCalls.get(method) ?? []).reduce((a, b) => a + b, 0), 0) / rounds.length / tasks;
  lines.push(`    ${'call'.padEnd(10)} ${'direct'.padStart(18)} ${'pilotage'.padStart(18)}`);
  for (const method of methods) {
    if (!directCalls.has(method) && !pilotageCalls.has(method)) continue;
    lines.push(`    ${method.padEnd(10)} ${callsOf(directCalls, method).padStart(18)} ${callsOf(pilotageCalls, method).padStart(18)}`);
  }
  const timeline = (side: 'direct' | 'pilotage') => rounds.flatMap((round) => timelines(round[side].calls));
  const directTimeline = timeline('direct');
  const pilotageTimeline = timeline('pilotage');
  const medianOf = (list: ContainerTimeline[], key: keyof ContainerTimeline) => median(list.map((entry) => entry[key]));
  row(
    'start answered -> logs follow requested',
    `${fmt(medianOf(directTimeline, 'startToLogs'), 1)} / ${fmt(medianOf(pilotageTimeline, 'startToLogs'), 1)} ms`,
    'direct / pilotage, median (pilotage: inspect, TaskStarted append first)',
  );
  row(
    'logs follow requested -> stream ended',
    `${fmt(medianOf(directTimeline, 'logs'))} / ${fmt(medianOf(pilotageTimeline, 'logs'))} ms`,
    `direct / pilotage, median; means ${fmt(directTimeline.reduce((sum, entry) => sum + entry.logs, 0) / Math.max(1, directTimeline.length))} / ${fmt(pilotageTimeline.reduce((sum, entry) => sum + entry.logs, 0) / Math.max(1, pilotageTimeline.length))} ms`,
  );
  row(
    'start answered -> wait answered',
    `${fmt(medianOf(directTimeline, 'startToWait'))} / ${fmt(medianOf(pilotageTimeline, 'startToWait'))} ms`,
    'direct / pilotage, median: Podman reports exits on a ~250 ms grid, which dominates the figures above',
  );
  const meanLogs = (list: ContainerTimeline[]) => list.reduce((sum, entry) => sum + entry.logs, 0) / Math.max(1, list.length);
  const logsDelta = (meanLogs(directTimeline) - meanLogs(pilotageTimeline)) * tasks;
  row(
    'ratio with the follow-duration difference removed',
    ratio(pilotageWall + logsDelta, directWall),
    `informational: pilotage wall + ${tasks} x (mean direct follow - mean pilotage follow) = +${fmt(logsDelta)} ms, over the direct wall`,
  );
  const idle = (side: 'direct' | 'pilotage') => median(rounds.map((round) => round[side].idleMs));
  row('pilotage\'s extra calls (inspect, hasImage) per task', `${fmt(extraMs, 1)} ms`, 'container-engine time the direct side does not spend; all on the critical path');
  row('no container-engine call in flight, per task', `${fmt(idle('direct') / tasks, 1)} / ${fmt(idle('pilotage') / tasks, 1)} ms`, 'direct / pilotage (median round): time spent outside the container engine');
  row(
    'wait answered -> next container\'s first call',
    `${fmt(median(rounds.map((round) => round.direct.gapMs.p50)), 1)} / ${fmt(median(rounds.map((round) => round.pilotage.gapMs.p50)), 1)} ms`,
    `direct / pilotage, p50; pilotage p90 ${fmt(median(rounds.map((round) => round.pilotage.gapMs.p90)), 1)} ms (pilotage: inspect, log flush, TaskFinished, plan, TaskQueued)`,
  );
  const appendsPerTask = median(rounds.map((round) => round.pilotage.appends.length)) / tasks;
  const appendMs = rounds.flatMap((round) => round.pilotage.appends.map((entry) => entry.ended - entry.began));
  row('pilotage appends per task', fmt(appendsPerTask, 2), `append ${fmtDist(distribution(appendMs))}`);
  const logWrites = median(rounds.map((round) => round.pilotage.logWrites));
  const logMs = rounds.reduce((sum, round) => sum + round.pilotage.logWriteMs, 0) / Math.max(1, rounds.reduce((sum, round) => sum + round.pilotage.logWrites, 0));
  row('pilotage task-log writes per task', fmt(logWrites / tasks, 2), `mean ${fmt(logMs, 1)} ms each (INSERT + JetStream publish, awaited)`);
  const statements = new Map<string, number>();
  for (const round of rounds) for (const [key, value] of round.pilotage.statements) statements.set(key, (statements.get(key) ?? 0) + value.count);
  const statementText = [...statements.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${key} ${fmt(count / rounds.length / tasks, 1)}`)
    .join(', ');
  row('pilotage statements per task (outside tx)', fmt([...statements.values()].reduce((a, b) => a + b, 0) / rounds.length / tasks, 1), statementText);
  row(
    'pilotage projection transactions per task',
    fmt(median(rounds.map((round) => round.pilotage.transactions.count)) / tasks, 1),
    `mean ${fmt(rounds.reduce((sum, round) => sum + round.pilotage.transactions.ms, 0) / Math.max(1, rounds.reduce((sum, round) => sum + round.pilotage.transactions.count, 0)), 1)} ms each`,
  );
  row('GET /runs/{id} polls per run', fmt(median(rounds.map((round) => round.pilotage.polls))), `every ${CONFIG.pollMs} ms`);
  row('invalid rounds (run again)', fmt(result.invalid.length), result.invalid.join('; '));
  return { ratio: pilotageWall / directWall };
}

// ---------------------------------------------------------------------------------------
// Part 2: scheduling on the no-op runtime

interface TaskRef {
  stage: string;
  action: string;
}

interface Phase {
  label: string;
  runs: number;
  tasks: number;
  wallMs: number;
  /** First no-op start → last no-op wait. */
  taskWindowMs: number;
  /** Run by run: RunStarted → RunSucceeded as recorded. */
  recordedMs: number[];
  gaps: number[];
  gapsInStage: number[];
  gapsAtBoundary: number[];
  /** A task's no-op start → the next task's no-op start, same run. */
  cycles: number[];
  /** The append holding a task's TaskFinished returned → the next task's no-op start. */
  afterFinished: number[];
  segments: Record<string, number[]>;
  appends: number;
  appendMs: number[];
  statements: Map<string, { count: number; ms: number }>;
  transactions: { count: number; ms: number };
  logWrites: number;
  logWriteMs: number[];
  cpu: ReturnType<typeof cpuPercentSince>;
  loopDelay: Dist;
  /** Terminal append → GET /runs/{id} shows it (the runs projection), max over the runs. */
  readModelLagMs: number;
  postMs: Dist;
  /** POST /runs that did not answer 201 (the run may have been recorded nonetheless). */
  postFailures: string[];
  counters?: { evolveCalls: number; evolveMs: number; planCalls: number; planMs: number };
  profile?: ProfileSummary;
}

interface SchedulingResult {
  phases: Phase[];
  diagnostic?: Phase;
  micro?: MicroCosts;
  noopCalls: NoopRuntime['calls'];
}

const TERMINAL_EVENTS = ['RunSucceeded', 'RunFailed', 'RunStopped', 'RunTimedOut'];

function taskOrder(document: { spec: { stages: { name: string; actions: { name: string }[] }[] } }): TaskRef[] {
  return document.spec.stages.flatMap((stage) => stage.actions.map((action) => ({ stage: stage.name, action: action.name })));
}

async function schedulingPhase(
  pilotage: BenchPilotage,
  probe: ServiceProbe,
  noop: NoopRuntime,
  workflowId: string,
  order: TaskRef[],
  runs: number,
  label: string,
  diagnostic = false,
): Promise<Phase> {
  probe.reset();
  const terminal = new Map<string, { type: string; at: number }>();
  let expected = new Set<string>();
  let resolveAll: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
  const check = () => {
    if (expected.size > 0 && [...expected].every((streamId) => terminal.has(streamId))) resolveAll();
  };
  // Runs are known by their RunRequested appends: a POST may fail after its append.
  const requested = new Map<string, { id: string; number: number }>();
  const unsubscribe = probe.onAppend((record) => {
    if (record.types[0] === 'RunRequested' && !record.failed && record.data[0].workflowId === workflowId) {
      requested.set(record.streamId, { id: String(record.data[0].runId), number: Number(record.data[0].number) });
    }
    const type = record.types.find((candidate) => TERMINAL_EVENTS.includes(candidate));
    if (type && !record.failed) {
      terminal.set(record.streamId, { type, at: record.ended });
      check();
    }
  });

  // Call counters of the pure functions (diagnostic pass only): the engine and the
  // projection call them through the modules' exports, so wrapping those counts them.
  const counters = { evolveCalls: 0, evolveMs: 0, planCalls: 0, planMs: 0 };
  const stateExports = runState as unknown as Record<string, unknown>;
  const plannerExports = runPlanner as unknown as Record<string, unknown>;
  const originalEvolve = runState.evolve;
  const originalPlan = runPlanner.planRun;
  let profiler: Profiler | undefined;
  if (diagnostic) {
    stateExports.evolve = (...args: Parameters<typeof originalEvolve>) => {
      const began = now();
      try {
        return originalEvolve(...args);
      } finally {
        counters.evolveCalls += 1;
        counters.evolveMs += now() - began;
      }
    };
    plannerExports.planRun = (...args: Parameters<typeof originalPlan>) => {
      const began = now();
      try {
        return originalPlan(...args);
      } finally {
        counters.planCalls += 1;
        counters.planMs += now() - began;
      }
    };
    profiler = new Profiler();
    await profiler.start();
  }

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = cpuSample();
  probe.recording = true;
  loop.enable();
  const began = now();
  let started: { id: string; number: number }[];
  let posts: { status: number; ms: number; error?: string }[];
  let ended: number;
  try {
    posts = await Promise.all(
      Array.from({ length: runs }, async () => {
        const sent = now();
        const answer = await call(pilotage.url, 'POST', `/api/v1/workflows/${workflowId}/runs`, {});
        return { status: answer.status, ms: now() - sent, ...(answer.status === 201 ? {} : { error: JSON.stringify(answer.body).slice(0, 300) }) };
      }),
    );
    started = [...requested.values()];
    if (started.length !== runs) {
      throw new Error(`${started.length} of ${runs} runs were recorded; POST /runs answered ${posts.map((post) => `${post.status} ${post.error ?? ''}`).join('; ')}`);
    }
    expected = new Set([...requested.keys()]);
    check();
    await withTimeout(allDone, 20 * 60_000, `${runs} runs of ${order.length} tasks`);
    ended = Math.max(...[...expected].map((streamId) => terminal.get(streamId)!.at));
  } finally {
    loop.disable();
    probe.recording = false;
    unsubscribe();
    if (diagnostic) {
      stateExports.evolve = originalEvolve;
      plannerExports.planRun = originalPlan;
    }
  }
  const cpu = cpuPercentSince(cpu0);
  const profile = profiler ? summarize(await profiler.stop()) : undefined;
  const loopDelay: Dist = {
    count: loop.count,
    p50: loop.percentile(50) / 1e6,
    p90: loop.percentile(90) / 1e6,
    p99: loop.percentile(99) / 1e6,
    max: loop.max / 1e6,
    mean: loop.mean / 1e6,
  };

  // Statuses, and how long the read model took to show them.
  let readModelLagMs = 0;
  const recordedMs: number[] = [];
  for (const run of started) {
    const streamId = `run-${workflowId}.${run.number}`;
    const { run: view, seenAt } = await pollUntilFinished(pilotage.url, run.id, 10, 10 * 60_000);
    if (view.status !== 'succeeded') throw new Error(`run ${run.id} ended ${view.status}: ${view.reason}`);
    readModelLagMs = Math.max(readModelLagMs, seenAt - terminal.get(streamId)!.at);
    recordedMs.push(Date.parse(view.finishedAt) - Date.parse(view.startedAt));
  }

  // Task timings from the no-op runtime, run by run, in the workflow's order.
  const runIds = new Set(started.map((run) => run.id));
  const byRun = new Map<string, Map<string, NoopTimes>>();
  for (const times of noop.times.values()) {
    const runId = times.labels[CONTAINER_LABELS.run];
    if (!runIds.has(runId)) continue;
    let tasks = byRun.get(runId);
    if (!tasks) byRun.set(runId, (tasks = new Map()));
    tasks.set(times.labels[CONTAINER_LABELS.task], times);
  }
  const appendsByStream = new Map<string, AppendRecord[]>();
  for (const record of probe.appends) {
    let list = appendsByStream.get(record.streamId);
    if (!list) appendsByStream.set(record.streamId, (list = []));
    list.push(record);
  }
  const appendWith = (streamId: string, type: string, task: TaskRef) =>
    appendsByStream.get(streamId)?.find((record) => !record.failed && record.types.some((candidate, index) => candidate === type && record.data[index].stage === task.stage && record.data[index].action === task.action));
  const logWritesByTask = new Map<string, { began: number; ended: number }[]>();
  for (const write of probe.logWrites) {
    const key = `${write.runId}/${write.task}`;
    let list = logWritesByTask.get(key);
    if (!list) logWritesByTask.set(key, (list = []));
    list.push(write);
  }

  const gaps: number[] = [];
  const gapsInStage: number[] = [];
  const gapsAtBoundary: number[] = [];
  const cycles: number[] = [];
  const afterFinished: number[] = [];
  const segments: Record<string, number[]> = {
    'start -> TaskStarted appended (inspect, append)': [],
    'TaskStarted appended -> wait answered (log flush)': [],
    '  of which task-log writes (awaited) ': [],
    'wait answered -> TaskFinished append sent': [],
    '  of which task-log writes (awaited)': [],
    'TaskFinished append (SELECT version + INSERT)': [],
    'TaskFinished appended -> next TaskQueued appended': [],
    'TaskQueued appended -> no-op create': [],
    'create -> start (inspect, start)': [],
  };
  let firstStart = Infinity;
  let lastWait = -Infinity;
  let taskCount = 0;
  for (const run of started) {
    const tasks = byRun.get(run.id);
    const streamId = `run-${workflowId}.${run.number}`;
    if (!tasks || tasks.size !== order.length) throw new Error(`run ${run.id}: the no-op runtime saw ${tasks?.size ?? 0} of ${order.length} tasks`);
    taskCount += tasks.size;
    for (let index = 0; index < order.length; index++) {
      const current = tasks.get(`${order[index].stage}.${order[index].action}`)!;
      firstStart = Math.min(firstStart, current.started ?? Infinity);
      lastWait = Math.max(lastWait, current.waited ?? -Infinity);
      if (index + 1 >= order.length) continue;
      const next = tasks.get(`${order[index + 1].stage}.${order[index + 1].action}`)!;
      const gap = next.started! - current.waited!;
      gaps.push(gap);
      (order[index].stage === order[index + 1].stage ? gapsInStage : gapsAtBoundary).push(gap);
      cycles.push(next.started! - current.started!);
      const taskStarted = appendWith(streamId, 'TaskStarted', order[index]);
      const finished = appendWith(streamId, 'TaskFinished', order[index]);
      const queued = appendWith(streamId, 'TaskQueued', order[index + 1]);
      if (!finished || !queued || !taskStarted) continue;
      segments['start -> TaskStarted appended (inspect, append)'].push(taskStarted.ended - current.started!);
      segments['TaskStarted appended -> wait answered (log flush)'].push(current.waited! - taskStarted.ended);
      const flushed = (logWritesByTask.get(`${run.id}/${order[index].stage}.${order[index].action}`) ?? []).filter(
        (write) => write.began >= taskStarted.ended && write.ended <= current.waited!,
      );
      segments['  of which task-log writes (awaited) '].push(flushed.reduce((sum, write) => sum + write.ended - write.began, 0));
      segments['wait answered -> TaskFinished append sent'].push(finished.began - current.waited!);
      const writes = (logWritesByTask.get(`${run.id}/${order[index].stage}.${order[index].action}`) ?? []).filter(
        (write) => write.began >= current.waited! && write.ended <= finished.began,
      );
      segments['  of which task-log writes (awaited)'].push(writes.reduce((sum, write) => sum + write.ended - write.began, 0));
      segments['TaskFinished append (SELECT version + INSERT)'].push(finished.ended - finished.began);
      afterFinished.push(next.started! - finished.ended);
      segments['TaskFinished appended -> next TaskQueued appended'].push(queued.ended - finished.ended);
      segments['TaskQueued appended -> no-op create'].push(next.created - queued.ended);
      segments['create -> start (inspect, start)'].push(next.started! - next.created);
    }
  }
  const appendMs = probe.appends.map((record) => record.ended - record.began);
  return {
    label,
    runs,
    tasks: taskCount,
    wallMs: ended - began,
    taskWindowMs: lastWait - firstStart,
    recordedMs,
    gaps,
    gapsInStage,
    gapsAtBoundary,
    cycles,
    afterFinished,
    segments,
    appends: probe.appends.length,
    appendMs,
    statements: new Map(probe.statements),
    transactions: { ...probe.transactions },
    logWrites: probe.logWrites.length,
    logWriteMs: probe.logWrites.map((write) => write.ended - write.began),
    cpu,
    loopDelay,
    readModelLagMs,
    postMs: distribution(posts.map((post) => post.ms)),
    postFailures: posts.filter((post) => post.status !== 201).map((post) => `${post.status} after ${fmt(post.ms)} ms: ${post.error}`),
    ...(diagnostic ? { counters, profile } : {}),
  };
}

async function schedulingPart(infra: Infra): Promise<SchedulingResult> {
  const mark = cleanupMark();
  try {
    const noop = new NoopRuntime({ lines: CONFIG.schedLines, outputKey: 'n' });
    const pilotage = await pilotageOn(infra, 'scheduling', noop, {});
    const probe = new ServiceProbe(pilotage);
    const maxRuns = Math.max(...CONFIG.schedRuns);
    const action = (index: number) => ({
      image: CONFIG.image,
      pullPolicy: 'IfNotPresent',
      command: echoCommand(index),
      ...(CONFIG.schedLines > 0 ? { outputs: ['n'] } : {}),
    });
    const document = workflowDocument('engine-scheduling', sequentialStages(CONFIG.schedTasks, action), { concurrency: Math.min(100, maxRuns) });
    const workflowId = await createWorkflow(pilotage.url, document);
    const order = taskOrder(document);
    if (CONFIG.schedWarmupTasks > 0) {
      progress(`warm-up: one run of ${CONFIG.schedWarmupTasks} tasks (not counted)`);
      const warm = workflowDocument('engine-scheduling-warmup', sequentialStages(CONFIG.schedWarmupTasks, action));
      const warmId = await createWorkflow(pilotage.url, warm);
      await schedulingPhase(pilotage, probe, noop, warmId, taskOrder(warm), 1, 'warm-up');
    }
    const phases: Phase[] = [];
    for (const runs of CONFIG.schedRuns) {
      if (state.aborted) break;
      progress(`${runs} concurrent run(s) of ${CONFIG.schedTasks} sequential tasks (${order.length / 50 > 1 ? `${Math.ceil(order.length / 50)} stages of <= 50` : 'one stage'})`);
      phases.push(await schedulingPhase(pilotage, probe, noop, workflowId, order, runs, `${runs} run${runs > 1 ? 's' : ''}`));
    }
    let diagnostic: Phase | undefined;
    if (CONFIG.profile && !state.aborted) {
      progress(`diagnostic pass: ${maxRuns} run(s) again with the CPU profiler and call counters (not in the figures above)`);
      diagnostic = await schedulingPhase(pilotage, probe, noop, workflowId, order, maxRuns, 'diagnostic', true);
    }
    // Per-event CPU cost on the real stream of a finished run of this workflow.
    const [row] = await pilotage.db.query<{ stream_id: string }[]>(
      "SELECT stream_id FROM pilotage_runs WHERE workflow_id = ? AND status = 'succeeded' ORDER BY number DESC LIMIT 1",
      [workflowId],
    );
    const micro = row ? measureMicroCosts(await pilotage.store.readStream(row.stream_id)) : undefined;
    return { phases, diagnostic, micro, noopCalls: { ...noop.calls } };
  } finally {
    await cleanupTo(mark);
  }
}

function reportScheduling(result: SchedulingResult, lines: string[]): { tasksPerSecond: number; p99: number; p99Single: number } {
  lines.push(
    '',
    `Part 2: scheduling. Pilotage in-process (Nest module, HTTP, projections, outbox relay, MariaDB, NATS) with CONTAINER_RUNTIME = a no-op`,
    `runtime (exit 0 at once, ${CONFIG.schedLines} [COUT] line(s)); workflows of ${CONFIG.schedTasks} sequential tasks (stages of <= 50, the schema's limit), runs started`,
    `with POST /runs all at once; tasks/s = tasks / (first POST sent -> last Run* terminal event appended); latency = a task's no-op wait`,
    `answered -> the next task's no-op start call, same run.`,
  );
  for (const phase of result.phases) lines.push(...phaseLines(phase));
  const throughputPhase = result.phases.reduce((best, phase) => (phase.runs > best.runs ? phase : best), result.phases[0]);
  const singlePhase = result.phases.reduce((best, phase) => (phase.runs < best.runs ? phase : best), result.phases[0]);
  if (result.diagnostic) lines.push(...diagnosticLines(result.diagnostic));
  if (result.micro) lines.push(...microLines(result.micro, result.diagnostic));
  const calls = Object.entries(result.noopCalls)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${fmt(count)}`)
    .join(', ');
  lines.push('', `  no-op runtime calls in the whole part: ${calls}`);
  return {
    tasksPerSecond: throughputPhase ? throughputPhase.tasks / (throughputPhase.wallMs / 1000) : NaN,
    p99: throughputPhase ? distribution(throughputPhase.gaps).p99 : NaN,
    p99Single: singlePhase ? distribution(singlePhase.gaps).p99 : NaN,
  };
}

function rowTo(lines: string[], label: string, value: string, note = ''): void {
  lines.push(`  ${label.padEnd(50)} ${value.padStart(16)}   ${note}`);
}

function phaseLines(phase: Phase): string[] {
  const lines: string[] = ['', `  [${phase.label}] ${phase.runs} run(s) x ${fmt(phase.tasks / phase.runs)} tasks = ${fmt(phase.tasks)} tasks`];
  const rate = phase.tasks / (phase.wallMs / 1000);
  rowTo(lines, 'tasks/s', fmt(rate, 0), `${fmt(phase.wallMs)} ms first POST -> last run finished; ${fmt(phase.tasks / (phase.taskWindowMs / 1000), 0)}/s first start -> last wait`);
  rowTo(
    lines,
    'tasks/s until the read model shows every run done',
    fmt(phase.tasks / ((phase.wallMs + phase.readModelLagMs) / 1000), 0),
    `${fmt(phase.wallMs + phase.readModelLagMs)} ms first POST -> GET /runs/{id} "succeeded" for all (the runs projection lagging ${fmt(phase.readModelLagMs)} ms)`,
  );
  rowTo(lines, 'run duration, recorded (RunStarted -> RunSucceeded)', `${fmt(median(phase.recordedMs))} ms`, `median of ${phase.runs}; ${fmt(median(phase.recordedMs) / (phase.tasks / phase.runs), 2)} ms per task of one run`);
  rowTo(lines, 'task end -> next task start, all', `p99 ${fmt(distribution(phase.gaps).p99, 1)} ms`, fmtDist(distribution(phase.gaps)));
  rowTo(lines, '  within a stage', `p99 ${fmt(distribution(phase.gapsInStage).p99, 1)} ms`, fmtDist(distribution(phase.gapsInStage)));
  rowTo(lines, '  across a stage boundary (StageFinished/Started)', `p50 ${fmt(distribution(phase.gapsAtBoundary).p50, 1)} ms`, fmtDist(distribution(phase.gapsAtBoundary)));
  rowTo(lines, 'TaskFinished appended -> next task start', `p99 ${fmt(distribution(phase.afterFinished).p99, 1)} ms`, fmtDist(distribution(phase.afterFinished)));
  rowTo(lines, 'task cycle: start -> next task start', `p50 ${fmt(distribution(phase.cycles).p50, 1)} ms`, fmtDist(distribution(phase.cycles)));
  rowTo(lines, '  where the cycle goes (medians; means in the note)', '', 'the last five lines are the end -> next start latency');
  for (const [label, values] of Object.entries(phase.segments)) {
    const d = distribution(values);
    rowTo(lines, `    ${label}`, `${fmt(d.p50, 2)} ms`, `mean ${fmt(d.mean, 2)}, p99 ${fmt(d.p99, 1)} ms`);
  }
  const perTask = (count: number) => fmt(count / phase.tasks, 2);
  rowTo(lines, 'appends per task', perTask(phase.appends), `append ${fmtDist(distribution(phase.appendMs))}`);
  rowTo(lines, 'task-log writes per task', perTask(phase.logWrites), `write ${fmtDist(distribution(phase.logWriteMs))} (INSERT + JetStream publish)`);
  const statements = [...phase.statements.entries()].sort((a, b) => b[1].count - a[1].count);
  const totalStatements = statements.reduce((sum, [, value]) => sum + value.count, 0);
  rowTo(
    lines,
    'statements per task outside transactions',
    perTask(totalStatements),
    statements.map(([key, value]) => `${key} ${perTask(value.count)} (${fmt(value.ms / value.count, 2)} ms)`).join(', '),
  );
  rowTo(lines, 'projection transactions per task', perTask(phase.transactions.count), `mean ${fmt(phase.transactions.ms / Math.max(1, phase.transactions.count), 1)} ms each (runner: checkpoint lock, apply per event, save)`);
  rowTo(lines, 'read model shows the end after', `${fmt(phase.readModelLagMs)} ms`, 'last Run* event appended -> GET /runs/{id} says so (max over the runs)');
  rowTo(
    lines,
    'POST /runs',
    `p50 ${fmt(phase.postMs.p50)} ms`,
    `max ${fmt(phase.postMs.max)} ms (waits for the projections); ${phase.postFailures.length} of ${phase.runs} failed` +
      (phase.postFailures.length ? ` although the run was recorded and ran: ${phase.postFailures[0]}` : ''),
  );
  rowTo(lines, 'event-loop delay', `p99 ${fmt(phase.loopDelay.p99, 1)} ms`, `p50 ${fmt(phase.loopDelay.p50, 1)}, max ${fmt(phase.loopDelay.max, 1)} ms`);
  rowTo(lines, 'CPU', '', `${fmtCpu(phase.cpu)}; ${fmt((phase.cpu.self * 10 * phase.cpu.seconds) / phase.tasks, 2)} ms of this process per task`);
  return lines;
}

function diagnosticLines(phase: Phase): string[] {
  const lines: string[] = [];
  const rate = phase.tasks / (phase.wallMs / 1000);
  lines.push(
    '',
    `  [diagnostic pass, profiler on: ${phase.runs} run(s), ${fmt(phase.tasks)} tasks, ${fmt(rate)} tasks/s, gap p50 ${fmt(distribution(phase.gaps).p50, 1)} / p99 ${fmt(distribution(phase.gaps).p99, 1)} ms; ${fmtCpu(phase.cpu)}]`,
  );
  if (phase.counters) {
    const { evolveCalls, evolveMs, planCalls, planMs } = phase.counters;
    rowTo(lines, 'evolve() calls per task, in the window', fmt(evolveCalls / phase.tasks, 1), `${fmt((evolveMs * 1000) / Math.max(1, evolveCalls), 0)} us each, ${fmt((evolveMs * 1000) / phase.tasks, 0)} us per task, ${fmt((evolveMs / phase.wallMs) * 100, 1)}% of wall`);
    rowTo(lines, 'planRun() calls per task', fmt(planCalls / phase.tasks, 1), `${fmt((planMs * 1000) / Math.max(1, planCalls), 0)} us each, ${fmt((planMs * 1000) / phase.tasks, 0)} us per task, ${fmt((planMs / phase.wallMs) * 100, 1)}% of wall`);
  }
  if (phase.profile) {
    const summary = phase.profile;
    const named = (label: string, pattern: RegExp) => {
      const ms = inclusiveOf(summary, pattern);
      rowTo(lines, `  profile, inclusive: ${label}`, `${fmt(ms)} ms`, `${fmt((ms / summary.durationMs) * 100, 1)}% of the main thread, ${fmt((ms * 1000) / phase.tasks, 0)} us per task`);
    };
    named('evolve (run-state), its structuredClone included', /^evolve dist\/services\/pilotage\/src\/runs\/run-state/);
    named('planRun (run-planner)', /^planRun dist\//);
    named('RunsProjection.apply', /^apply dist\/services\/pilotage\/src\/runs\/runs\.projection/);
    named('ProtocolEventsPublisher.apply', /^apply dist\/services\/pilotage\/src\/engine\/protocol-events/);
    named('ProjectionRunner.catchUp', /^catchUp dist\/libs\/eventstore/);
    named('EventStore.append', /^append dist\/libs\/eventstore\/src\/event-store/);
    named('TaskLogStore.write', /^write dist\/services\/pilotage\/src\/engine\/task-logs/);
    named('OutboxRelay (publish loop)', /dist\/libs\/eventstore\/src\/outbox-relay/);
    lines.push(...formatSummary(summary, { top: CONFIG.profileTop, per: { label: 'task', count: phase.tasks } }));
  }
  return lines;
}

function microLines(micro: MicroCosts, diagnostic: Phase | undefined): string[] {
  const lines: string[] = [];
  const perTaskEvents = micro.events / micro.tasks;
  lines.push(
    '',
    `  [per-event CPU work, measured on the stream of a finished ${micro.tasks}-task run: ${fmt(micro.events)} events, ${fmt(perTaskEvents, 2)} per task; best of 11 rounds]`,
  );
  rowTo(lines, 'evolve(), state with all tasks present', `${fmt(micro.evolveLateUs, 1)} us`, `at the first task: ${fmt(micro.evolveEarlyUs, 1)} us; structuredClone(stages) alone ${fmt(micro.structuredCloneStagesUs, 1)} us`);
  rowTo(lines, 'planRun(), mid-run', `${fmt(micro.planRunUs, 1)} us`, 'scans every task of the run');
  rowTo(
    lines,
    'runs projection per event: JSON.parse + stringify',
    `${fmt(micro.jsonParseUs + micro.jsonStringifyUs, 0)} us`,
    `parse ${fmt(micro.jsonParseUs, 0)} + stringify ${fmt(micro.jsonStringifyUs, 0)} us of a ${fmt(micro.stateBytes / 1024, 1)} KiB state (snapshot ${fmt(micro.snapshotBytes / 1024, 1)} KiB, stages ${fmt(micro.stagesBytes / 1024, 1)} KiB), + evolve; the UPDATE writes it all`,
  );
  rowTo(
    lines,
    '  => per task, runs projection alone',
    `${fmt(perTaskEvents * (micro.jsonParseUs + micro.jsonStringifyUs + micro.evolveLateUs), 0)} us`,
    `CPU, and ${fmt((perTaskEvents * micro.stateBytes) / 1024, 0)} KiB of pilotage_runs.state rewritten per task (${fmt(perTaskEvents, 2)} UPDATEs)`,
  );
  rowTo(lines, 'GET /runs/{id}: toRunView + JSON', `${fmt(micro.runViewUs, 0)} us`, `${fmt(micro.runViewBytes / 1024, 1)} KiB answer (plus JSON.parse of the stored state)`);
  rowTo(lines, 'fold of the whole stream', `${fmt(micro.foldMs, 1)} ms`, 'what RunsService.loadRecorded and an engine restart do per run');
  if (diagnostic?.counters) {
    const evolvePerTask = diagnostic.counters.evolveCalls / diagnostic.tasks;
    rowTo(lines, '  => evolve per task at this size', `${fmt(evolvePerTask * micro.evolveLateUs, 0)} us`, `${fmt(evolvePerTask, 1)} calls per task (counted in the diagnostic pass) x ${fmt(micro.evolveLateUs, 1)} us`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  process.stdout.write(
    `engine benchmark ${RUN_ID}: parts ${[...PARTS].join(', ')}; overhead ${CONFIG.overheadTasks} tasks x ${CONFIG.overheadRounds} rounds; ` +
      `scheduling ${CONFIG.schedTasks} tasks x runs ${CONFIG.schedRuns.join('/')}\n`,
  );
  const infra = await setUpInfra();
  const loadAtStart = os.loadavg()[0];
  process.stdout.write(
    `servers: MariaDB ${infra.mysqlVersion}, NATS ${infra.natsVersion}; ${os.cpus().length} cores, load average ${loadAtStart.toFixed(2)}; node ${process.version}\n\n`,
  );
  let overhead: OverheadResult | undefined;
  let scheduling: SchedulingResult | undefined;
  if (PARTS.has('overhead')) {
    progress('part 1: overhead against direct container runs');
    overhead = await overheadPart(infra);
  }
  if (PARTS.has('scheduling') && !state.aborted) {
    progress('part 2: scheduling on the no-op runtime');
    scheduling = await schedulingPart(infra);
  }
  if (state.aborted) return;

  const lines: string[] = ['', '=== Results ==='];
  const goals: string[] = [];
  const goal = (label: string, value: string, met: boolean) => goals.push(`  ${label.padEnd(50)} ${value.padStart(16)}   ${met ? 'MET' : 'NOT MET'}`);
  if (overhead) {
    const { ratio: value } = reportOverhead(overhead, lines);
    goal(`pilotage/direct wall time <= ${CONFIG.goalRatio} (${CONFIG.overheadTasks} echo tasks)`, fmt(value, 2), value <= CONFIG.goalRatio);
  }
  if (scheduling) {
    const { tasksPerSecond, p99, p99Single } = reportScheduling(scheduling, lines);
    const many = Math.max(...CONFIG.schedRuns);
    const one = Math.min(...CONFIG.schedRuns);
    goal(`tasks/s >= ${CONFIG.goalTasksPerSecond} (${many} concurrent runs, no-op runtime)`, fmt(tasksPerSecond), tasksPerSecond >= CONFIG.goalTasksPerSecond);
    goal(`task end -> next start p99 <= ${CONFIG.goalP99Ms} ms (${many} runs)`, `${fmt(p99, 1)} ms`, p99 <= CONFIG.goalP99Ms);
    if (one !== many) goal(`task end -> next start p99 <= ${CONFIG.goalP99Ms} ms (${one} run)`, `${fmt(p99Single, 1)} ms`, p99Single <= CONFIG.goalP99Ms);
  }
  lines.push('', 'Goals', ...goals);
  lines.push(
    '',
    `machine load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (shared machine: compare figures of one run only)`,
    `total run time ${((now() - started) / 1000).toFixed(1)} s (before cleanup)`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}

main()
  .then(
    () => 0,
    (error: unknown) => {
      if (state.aborted) return 130;
      process.stderr.write(`benchmark failed: ${(error as Error)?.stack ?? String(error)}\n`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanupAll();
    process.stdout.write(`cleaned up: databases ${DB_PREFIX}_* dropped, streams ${STREAM_PREFIX}* deleted, containers ${DIRECT_LABEL}-* and the engine's removed\n`);
    process.exit(code);
  });

