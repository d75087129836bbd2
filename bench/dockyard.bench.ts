/**
 * Registry benchmark: dockyard's /v2 API against CNCF distribution 2.8 (the Debian
 * package `docker-registry`), side by side on loopback, with skopeo as the client.
 *
 *  - distribution runs as its own process (filesystem storage in a temp directory, no
 *    auth, the package's cache settings); dockyard runs in this process with crew
 *    (MariaDB, NATS), a private workspace created by the admin through dockyard's REST
 *    API, and skopeo logging in with `--dest-creds admin:<password>` through crew's
 *    token flow (so dockyard's figures include the token round trips).
 *  - The image is an OCI layout of incompressible layers (random bytes in a tar, gzip at
 *    level 0 so that skopeo sends the bytes as they are), written by a child process.
 *    Each round writes a fresh image (new random bytes, new digests): a push then always
 *    uploads every byte, whatever blob reuse (cross-repository mounts from skopeo's blob
 *    cache, existing blobs) a registry offers. A push that skipped a blob fails the run.
 *  - A round pushes the image to each registry (`skopeo copy oci:… docker://…`) and
 *    pulls it back into a fresh `dir:` (both timed from skopeo's start to its exit; `sync`
 *    before each copy, untimed, so that one copy's writeback does not slow the next), the
 *    registries' order alternating between rounds. Figures: median times, MB/s (10^6
 *    bytes per second of the bytes a copy moves: layers, config, manifest), the
 *    throughput ratios candidate/distribution, and the CPU seconds each registry used
 *    per copy (less sensitive than times to other work on the machine).
 *  - Memory: first a phase with a 4x smaller image, then the main phase. dockyard runs in
 *    this process, so its memory is this process's: RSS sampled every 50 ms and the
 *    kernel's high-water mark (resourceUsage().maxRSS, which only grows: the small phase
 *    runs first so that its figure is its own). Images are written by child processes
 *    and skopeo is a child process: neither counts. distribution gets a fresh process per
 *    phase, its VmHWM is that phase's peak.
 *
 * Run with `npm run bench:dockyard`. BENCH_CANDIDATE=distribution compares distribution
 * with a second distribution (checks the harness, shows the noise of the machine).
 * Other knobs (see CONFIG): BENCH_ROUNDS, BENCH_LAYERS, BENCH_LAYER_MIB, BENCH_SMALL_ROUNDS,
 * BENCH_COPY_TIMEOUT_MS, BENCH_GOAL_RATIO, BENCH_GOAL_MEMORY_SHARE, BENCH_MYSQL_URL,
 * BENCH_NATS_URL, BENCH_LOG_LEVEL, BENCH_DISTRIBUTION_BINARY. Times are wall-clock times
 * on a shared machine: read them with the load average printed with the results.
 * It cleans up its temp directory, registry processes, databases (cobench_dockyard_<hex>_*)
 * and JetStream streams (BENCH<hex>_*), also on failure or Ctrl-C. Exit 0 whether the
 * goals are met or not; 2 when a prerequisite (docker-registry, skopeo, dockyard's /v2
 * API) is missing.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { connect as natsConnect } from 'nats';
import {
  cpuSeconds,
  DockyardNotReady,
  MemorySampler,
  procMemory,
  skopeoCopy,
  startDistribution,
  startDockyard,
  stopChildren,
  toolVersion,
  which,
  writeSkopeoEnv,
  writeTestImageInChild,
  type Registry,
  type SkopeoEnv,
  type TestImage,
} from './dockyard-support';
import { cleanupAll, defer, envInt, envNumber, fmt, installAbortHandlers, median, progress, state } from './engine-support';

// ---------------------------------------------------------------------------------------
// Parameters

const MiB = 1024 * 1024;
const MB = 1e6;

const CONFIG = {
  candidate: (process.env.BENCH_CANDIDATE ?? 'dockyard').trim(),
  mysqlUrl: (process.env.BENCH_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306').replace(/\/+$/, ''),
  natsUrl: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
  /** Services' log level: 'error', as dockyard logs the protocol's ordinary 401s and 404s as warnings. */
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
  distributionBinary: process.env.BENCH_DISTRIBUTION_BINARY ?? which('docker-registry') ?? (existsSync('/usr/bin/docker-registry') ? '/usr/bin/docker-registry' : undefined),
  rounds: envInt('BENCH_ROUNDS', 3, 1),
  layers: envInt('BENCH_LAYERS', 4, 1),
  /** 4 x 64 MiB = 268 MB per image by default (the goal asks for at least 200 MB). */
  layerMiB: envInt('BENCH_LAYER_MIB', 64, 4),
  /** Rounds of the memory-comparison phase with the 4x smaller image. */
  smallRounds: envInt('BENCH_SMALL_ROUNDS', 1, 1),
  copyTimeoutMs: envInt('BENCH_COPY_TIMEOUT_MS', 600_000, 1000),
  goalRatio: envNumber('BENCH_GOAL_RATIO', 0.9),
  /** "Flat": the peak grows by less than this share of the extra image bytes. */
  goalMemoryShare: envNumber('BENCH_GOAL_MEMORY_SHARE', 0.1),
};

const RUN_ID = randomBytes(3).toString('hex');
const PREFIX = `bench${RUN_ID}`;
const STREAM_PREFIX = `${PREFIX.toUpperCase()}_`;
const DB_PREFIX = `cobench_dockyard_${RUN_ID}`;
const ADMIN_PASSWORD = `bench-${randomBytes(12).toString('hex')}`;
const WORKSPACE = `bench-${RUN_ID}`;

const logger = pino({ level: CONFIG.logLevel, base: { service: 'bench' } }, pino.destination(2));

// ---------------------------------------------------------------------------------------
// Figures

interface CopyFigures {
  pushMs: number[];
  pullMs: number[];
  /** CPU seconds the registry used during each push / pull. */
  pushCpu: number[];
  pullCpu: number[];
  /** Token requests per push / pull and the milliseconds they took (registries with auth). */
  pushTokens: { count: number; ms: number }[];
  pullTokens: { count: number; ms: number }[];
}

interface PhaseResult {
  label: string;
  image: { layers: number; layerBytes: number; bytes: number };
  figures: Map<string, CopyFigures>;
  selfRssBefore: number;
  selfPeakSampled: number;
  arrayBuffersPeak: number;
  selfMaxRss: number;
  /** VmHWM of the registries that are processes of their own, by name. */
  processPeaks: Map<string, number>;
}

const loadAverage = () => `load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`;
const mib = (bytes: number) => `${fmt(bytes / MiB, 1)} MiB`;
const seconds = (ms: number) => `${fmt(ms / 1000, 2)} s`;
const rate = (bytes: number, ms: number) => (bytes / MB) / (ms / 1000);

// ---------------------------------------------------------------------------------------
// Prerequisites and infrastructure

function requirePrerequisites(): string {
  const missing: string[] = [];
  if (!CONFIG.distributionBinary) {
    missing.push('docker-registry (CNCF distribution 2.8) is not installed: `apt-get install -y docker-registry` (Debian package), or set BENCH_DISTRIBUTION_BINARY to its path.');
  }
  if (!which('skopeo')) missing.push('skopeo is not installed: `apt-get install -y skopeo`.');
  if (!['dockyard', 'distribution'].includes(CONFIG.candidate)) missing.push(`BENCH_CANDIDATE must be dockyard or distribution, not "${CONFIG.candidate}".`);
  if (missing.length) {
    process.stderr.write(`bench:dockyard cannot run:\n${missing.map((line) => `  - ${line}`).join('\n')}\n`);
    process.exit(2);
  }
  return CONFIG.distributionBinary!;
}

async function setUpInfra(): Promise<{ admin: Connection; mysqlVersion: string; natsVersion: string }> {
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
  const nc = await natsConnect({ servers: CONFIG.natsUrl.split(','), name: 'co-bench-dockyard-admin' });
  defer('close NATS admin connection', () => nc.close());
  const jsm = await nc.jetstreamManager();
  defer(`delete JetStream streams ${STREAM_PREFIX}*`, async () => {
    const names: string[] = [];
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(STREAM_PREFIX)) names.push(stream.config.name);
    }
    for (const name of names) await jsm.streams.delete(name);
  });
  for (const suffix of ['crew', 'dockyard']) {
    const database = `${DB_PREFIX}_${suffix}`;
    defer(`drop database ${database}`, () => admin.query(`DROP DATABASE IF EXISTS \`${database}\``));
  }
  return { admin, mysqlVersion: String(versionRows[0].version), natsVersion: nc.info?.version ?? '?' };
}

// ---------------------------------------------------------------------------------------
// One push and one pull

/**
 * Flushes dirty pages (untimed) before each copy, so that writing back what the last
 * copy left in the page cache does not slow down the next one, whichever registry it is.
 */
function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

async function push(env: SkopeoEnv, image: TestImage, registry: Registry, repository: string): Promise<number> {
  const reference = `docker://${registry.host}/${registry.namespace}/${repository}:${image.tag}`;
  const result = await skopeoCopy(
    env,
    ['--dest-tls-verify=false', ...(registry.creds ? [`--dest-creds=${registry.creds}`] : []), `oci:${image.dir}:${image.tag}`, reference],
    CONFIG.copyTimeoutMs,
  );
  if (result.skipped > 0) {
    throw new Error(`the push to ${registry.name} skipped ${result.skipped} blob(s) that the registry already had: the round did not upload every byte\n${result.output}`);
  }
  return result.ms;
}

async function pull(env: SkopeoEnv, image: TestImage, registry: Registry, repository: string, into: string): Promise<number> {
  const reference = `docker://${registry.host}/${registry.namespace}/${repository}:${image.tag}`;
  const result = await skopeoCopy(env, ['--src-tls-verify=false', ...(registry.creds ? [`--src-creds=${registry.creds}`] : []), reference, `dir:${into}`], CONFIG.copyTimeoutMs);
  // Every layer must have come back whole (skopeo checks the digests; the sizes are checked here).
  for (const digest of image.layerDigests) {
    const file = path.join(into, digest.slice('sha256:'.length));
    const expected = statSync(path.join(image.dir, 'blobs', 'sha256', digest.slice('sha256:'.length))).size;
    if (!existsSync(file) || statSync(file).size !== expected) {
      throw new Error(`the pull from ${registry.name} did not bring layer ${digest} back whole (files: ${readdirSync(into).join(', ')})`);
    }
  }
  return result.ms;
}

function tokensSince(before: { count: number; ms: number }, after: { count: number; ms: number }): { count: number; ms: number } {
  return { count: after.count - before.count, ms: after.ms - before.ms };
}

// ---------------------------------------------------------------------------------------
// A phase: `rounds` rounds of push + pull of a fresh image to each registry

async function runPhase(
  label: string,
  root: string,
  env: SkopeoEnv,
  registries: Registry[],
  layers: number,
  layerBytes: number,
  rounds: number,
): Promise<PhaseResult> {
  const figures = new Map(registries.map((registry) => [registry.name, { pushMs: [], pullMs: [], pushCpu: [], pullCpu: [], pushTokens: [], pullTokens: [] } as CopyFigures]));
  const selfRssBefore = process.memoryUsage().rss;
  const sampler = new MemorySampler(registries.flatMap((registry) => (registry.pid ? [registry.pid] : [])));
  let bytes = 0;
  for (let round = 1; round <= rounds; round++) {
    const tag = `r${round}`;
    const imageDir = path.join(root, `image-${label}-${tag}`);
    progress(`${label} round ${round}/${rounds}: writing a fresh image of ${layers} x ${mib(layerBytes)}`);
    const image = await writeTestImageInChild(imageDir, { layers, layerBytes, tag });
    bytes = image.bytes;
    const order = round % 2 === 1 ? registries : [...registries].reverse();
    sampler.start();
    for (const registry of order) {
      if (state.aborted) throw new Error('aborted');
      const repository = `${label}-${RUN_ID}-${tag}`;
      const figure = figures.get(registry.name)!;
      settleDisk();
      let cpu = cpuSeconds(registry.pid);
      let tokens = registry.tokenRequests?.();
      const pushMs = await push(env, image, registry, repository);
      figure.pushCpu.push(cpuSeconds(registry.pid) - cpu);
      if (tokens) figure.pushTokens.push(tokensSince(tokens, registry.tokenRequests!()));
      settleDisk();
      const into = path.join(root, `pull-${registry.name}-${label}-${tag}`);
      cpu = cpuSeconds(registry.pid);
      tokens = registry.tokenRequests?.();
      const pullMs = await pull(env, image, registry, repository, into);
      figure.pullCpu.push(cpuSeconds(registry.pid) - cpu);
      if (tokens) figure.pullTokens.push(tokensSince(tokens, registry.tokenRequests!()));
      rmSync(into, { recursive: true, force: true });
      settleDisk();
      figure.pushMs.push(pushMs);
      figure.pullMs.push(pullMs);
      progress(`${label} round ${round}: ${registry.name.padEnd(14)} push ${seconds(pushMs)} (${fmt(rate(image.bytes, pushMs), 1)} MB/s), pull ${seconds(pullMs)} (${fmt(rate(image.bytes, pullMs), 1)} MB/s)`);
    }
    sampler.stop();
    rmSync(imageDir, { recursive: true, force: true });
  }
  const processPeaks = new Map<string, number>();
  for (const registry of registries) if (registry.pid) processPeaks.set(registry.name, procMemory(registry.pid).hwm);
  return {
    label,
    image: { layers, layerBytes, bytes },
    figures,
    selfRssBefore,
    selfPeakSampled: sampler.selfPeak,
    arrayBuffersPeak: sampler.arrayBuffersPeak,
    selfMaxRss: process.resourceUsage().maxRSS * 1024,
    processPeaks,
  };
}

// ---------------------------------------------------------------------------------------
// Report

function printThroughput(result: PhaseResult, baseline: string, candidate: string): { push: number; pull: number } {
  const { bytes, layers, layerBytes } = result.image;
  process.stdout.write(`\n${result.label} image: ${layers} layers x ${mib(layerBytes)} of random bytes = ${fmt(bytes / MB, 1)} MB per copy; ${result.figures.get(baseline)!.pushMs.length} round(s)\n`);
  process.stdout.write(
    `  ${'registry'.padEnd(16)}${'push median'.padStart(12)}${'MB/s'.padStart(9)}${'CPU s'.padStart(8)}${'pull median'.padStart(14)}${'MB/s'.padStart(9)}${'CPU s'.padStart(8)}   rounds (push / pull, s)\n`,
  );
  const medians = new Map<string, { push: number; pull: number }>();
  for (const [name, figures] of result.figures) {
    const pushMs = median(figures.pushMs);
    const pullMs = median(figures.pullMs);
    medians.set(name, { push: pushMs, pull: pullMs });
    const rounds = `${figures.pushMs.map((ms) => fmt(ms / 1000, 2)).join(' ')} / ${figures.pullMs.map((ms) => fmt(ms / 1000, 2)).join(' ')}`;
    process.stdout.write(
      `  ${name.padEnd(16)}${seconds(pushMs).padStart(12)}${fmt(rate(bytes, pushMs), 1).padStart(9)}${fmt(median(figures.pushCpu), 2).padStart(8)}` +
        `${seconds(pullMs).padStart(14)}${fmt(rate(bytes, pullMs), 1).padStart(9)}${fmt(median(figures.pullCpu), 2).padStart(8)}   ${rounds}\n`,
    );
  }
  for (const [name, figures] of result.figures) {
    if (!figures.pushTokens.length) continue;
    const line = (copies: { count: number; ms: number }[]) =>
      `${fmt(median(copies.map((copy) => copy.count)), 1)} request(s), ${fmt(median(copies.map((copy) => copy.ms)), 0)} ms`;
    process.stdout.write(`  ${name} token requests per copy (within the times above; median): push ${line(figures.pushTokens)}, pull ${line(figures.pullTokens)}\n`);
  }
  const base = medians.get(baseline)!;
  const cand = medians.get(candidate)!;
  // Throughput ratio: the same bytes, so distribution's time over the candidate's.
  const ratios = { push: base.push / cand.push, pull: base.pull / cand.pull };
  process.stdout.write(`  throughput ${candidate}/${baseline}: push ${ratios.push.toFixed(2)}x, pull ${ratios.pull.toFixed(2)}x\n`);
  return ratios;
}

function printMemory(phases: PhaseResult[], candidate: string): { growth: number; allowed: number } {
  const inProcess = candidate === 'dockyard';
  process.stdout.write(`\nMemory (MiB)${inProcess ? ': dockyard runs in this process (with crew and the harness), so its figures are this process\'s' : ''}\n`);
  const width = 26;
  process.stdout.write(`  ${''.padEnd(46)}${phases.map((phase) => `${phase.label} (${fmt(phase.image.bytes / MB)} MB)`.padStart(width)).join('')}\n`);
  const row = (label: string, values: number[]) => process.stdout.write(`  ${label.padEnd(46)}${values.map((value) => fmt(value / MiB, 1).padStart(width)).join('')}\n`);
  row('bench process RSS before the phase', phases.map((phase) => phase.selfRssBefore));
  row('bench process peak RSS (sampled every 50 ms)', phases.map((phase) => phase.selfPeakSampled));
  row('  of which array buffers, peak', phases.map((phase) => phase.arrayBuffersPeak));
  row('bench process maxRSS (kernel, since start)', phases.map((phase) => phase.selfMaxRss));
  for (const name of phases[0].processPeaks.keys()) {
    row(`${name} VmHWM (own process, this phase)`, phases.map((phase) => phase.processPeaks.get(name) ?? NaN));
  }
  const [small, large] = [phases[0], phases[phases.length - 1]];
  const growth = large.selfPeakSampled - small.selfPeakSampled;
  const allowed = CONFIG.goalMemoryShare * (large.image.bytes - small.image.bytes);
  process.stdout.write(
    `  the image grew by ${fmt((large.image.bytes - small.image.bytes) / MiB, 1)} MiB (x${fmt(large.image.bytes / small.image.bytes, 1)}); the bench process's sampled peak RSS by ${fmt(growth / MiB, 1)} MiB, its maxRSS by ${fmt((large.selfMaxRss - small.selfMaxRss) / MiB, 1)} MiB\n`,
  );
  return { growth, allowed };
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const distributionBinary = requirePrerequisites();
  installAbortHandlers();
  const root = mkdtempSync(path.join(os.tmpdir(), 'co-bench-dockyard-'));
  defer(`remove ${root}`, async () => rmSync(root, { recursive: true, force: true }));
  defer('stop image writers and skopeo runs', () => stopChildren());

  const layerBytes = CONFIG.layerMiB * MiB;
  const smallLayerBytes = Math.max(1, Math.round(layerBytes / 4));
  process.stdout.write(`Registry benchmark: ${CONFIG.candidate === 'dockyard' ? 'dockyard' : 'distribution (second process)'} vs CNCF distribution, skopeo push/pull over loopback\n`);
  process.stdout.write(`  ${toolVersion(distributionBinary, ['--version'])}; ${toolVersion('skopeo', ['--version'])}; node ${process.version}\n`);
  process.stdout.write(`  machine: ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${loadAverage()}; temp dir ${root}\n`);

  const baseline = 'distribution';
  const candidate = CONFIG.candidate === 'dockyard' ? 'dockyard' : 'distribution-2';
  let dockyard: Registry | undefined;
  if (CONFIG.candidate === 'dockyard') {
    const infra = await setUpInfra();
    process.stdout.write(`  MariaDB ${infra.mysqlVersion}, NATS ${infra.natsVersion}\n`);
    progress('starting crew and dockyard in this process');
    const storageDir = path.join(root, 'dockyard');
    mkdirSync(storageDir, { recursive: true });
    try {
      dockyard = await startDockyard(
        {
          mysqlUrl: CONFIG.mysqlUrl,
          natsUrl: CONFIG.natsUrl,
          subjectPrefix: PREFIX,
          crewDatabase: `${DB_PREFIX}_crew`,
          dockyardDatabase: `${DB_PREFIX}_dockyard`,
          storageDir,
          adminPassword: ADMIN_PASSWORD,
          workspace: WORKSPACE,
          logger,
        },
        (label, stop) => defer(label, stop),
      );
    } catch (error) {
      if (!(error instanceof DockyardNotReady)) throw error;
      process.stderr.write(`bench:dockyard cannot run: ${error.message}.\n  (BENCH_CANDIDATE=distribution runs the harness with two distribution processes.)\n`);
      await cleanupAll();
      process.exit(2);
    }
  }

  const phases: PhaseResult[] = [];
  const plan = [
    { label: 'small', layerBytes: smallLayerBytes, rounds: CONFIG.smallRounds },
    { label: 'large', layerBytes, rounds: CONFIG.rounds },
  ];
  for (const phase of plan) {
    // A fresh distribution process (or two) per phase, so that VmHWM is the phase's own.
    const phaseDir = path.join(root, phase.label);
    const registries: Registry[] = [await startDistribution(distributionBinary, path.join(phaseDir, baseline), baseline)];
    defer(`stop ${baseline} (${phase.label})`, () => registries[0].stop());
    if (dockyard) registries.push(dockyard);
    else {
      const second = await startDistribution(distributionBinary, path.join(phaseDir, candidate), candidate);
      defer(`stop ${candidate} (${phase.label})`, () => second.stop());
      registries.push(second);
    }
    const env = writeSkopeoEnv(root, registries.map((registry) => registry.host));
    phases.push(await runPhase(phase.label, root, env, registries, CONFIG.layers, phase.layerBytes, phase.rounds));
    for (const registry of registries) if (registry.pid) await registry.stop();
    rmSync(phaseDir, { recursive: true, force: true });
  }

  process.stdout.write(`\nResults (times from skopeo's start to its exit; MB = 10^6 bytes; throughput ratio = ${baseline}'s median time / ${candidate}'s)\n`);
  process.stdout.write(`  CPU s: median CPU seconds the registry used per copy (dockyard's: this whole process, crew included)\n`);
  process.stdout.write(`  machine ${loadAverage()} at the end, on ${os.cpus().length} CPU(s): a load above the CPU count means other work competed with the copies\n`);
  printThroughput(phases[0], baseline, candidate);
  const ratios = printThroughput(phases[1], baseline, candidate);
  const memory = printMemory(phases, candidate);

  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  process.stdout.write(`\nGoals\n`);
  process.stdout.write(`  push throughput >= ${CONFIG.goalRatio}x distribution: ${ratios.push.toFixed(2)}x, ${verdict(ratios.push >= CONFIG.goalRatio)}\n`);
  process.stdout.write(`  pull throughput >= ${CONFIG.goalRatio}x distribution: ${ratios.pull.toFixed(2)}x, ${verdict(ratios.pull >= CONFIG.goalRatio)}\n`);
  process.stdout.write(
    `  peak RSS flat with blob size (grows < ${fmt(CONFIG.goalMemoryShare * 100)}% of the extra image bytes, ${fmt(memory.allowed / MiB, 1)} MiB): grew ${fmt(memory.growth / MiB, 1)} MiB, ${verdict(memory.growth < memory.allowed)}\n`,
  );
  if (CONFIG.candidate !== 'dockyard') process.stdout.write(`  (candidate is a second distribution process: the ratios show the harness's noise, not dockyard)\n`);

  await cleanupAll();
  process.stdout.write(`cleaned up: ${root}, registry processes${dockyard ? `, databases ${DB_PREFIX}_*, streams ${STREAM_PREFIX}*` : ''}\n`);
  process.exit(0);
}

main().catch((error: Error) => {
  // After Ctrl-C the killed children make the run fail: the abort handler reports and exits.
  if (state.aborted) return;
  process.stderr.write(`bench:dockyard failed: ${error.stack ?? error.message}\n`);
  void cleanupAll().finally(() => process.exit(1));
});
