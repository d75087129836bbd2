/**
 * Pieces of the registry benchmark (bench/dockyard.bench.ts): the test image (an OCI
 * layout of incompressible layers written here), a CNCF distribution (`docker-registry`)
 * process, crew and dockyard in this process, skopeo runs and memory sampling.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Logger } from 'pino';
import { loadServiceConfig } from '@co/common';
import { startService, type RunningService } from '@co/service-kit';
import { freePort, now, sleep, withEnv } from './engine-support';
import { CLOCK_TICKS } from './proc-stats';

// ---------------------------------------------------------------------------------------
// Child processes of a run (image writers, skopeo), stopped when the run is cut short.

const children = new Set<ChildProcess>();

function tracked(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills the image writers and skopeo runs still going, and waits for them to exit. */
export async function stopChildren(): Promise<void> {
  const exits = [...children].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  await Promise.all(exits);
}

// ---------------------------------------------------------------------------------------
// The image: an OCI layout (oci-layout, index.json, blobs/sha256/…) whose layers are
// gzip streams of tar archives holding one file of random bytes each. Gzip at level 0
// (stored blocks): the bytes stay incompressible and cost no CPU to "compress", and
// skopeo, seeing gzip, sends the layers as they are instead of compressing them itself.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface TestImage {
  /** The OCI layout directory; `oci:<dir>:<tag>` for skopeo. */
  dir: string;
  tag: string;
  /** Layers + config + manifest, in bytes: what a push or a pull moves. */
  bytes: number;
  layerDigests: string[];
}

/** A ustar header of a regular file (mode 0644, owner 0:0, mtime 0). */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0') + '\0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return header;
}

/** The tar archive of one file of `size` random bytes, produced in 1 MiB chunks. */
function* randomTar(name: string, size: number): Generator<Buffer> {
  yield tarHeader(name, size);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= chunk.length) {
    randomFillSync(chunk);
    yield Buffer.from(chunk.subarray(0, Math.min(left, chunk.length)));
  }
  const padding = (512 - (size % 512)) % 512;
  yield Buffer.alloc(padding + 1024); // file padding and the two end-of-archive blocks
}

function hashing(hash: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

function writeBlob(dir: string, content: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(content).digest('hex');
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/** Writes a fresh image (new random bytes, so new digests) as an OCI layout in `dir`. */
export async function writeTestImage(dir: string, options: { layers: number; layerBytes: number; tag: string }): Promise<TestImage> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layers: { digest: string; size: number; diffId: string }[] = [];
  for (let index = 0; index < options.layers; index++) {
    const partial = path.join(blobs, `.layer-${index}.partial`);
    const diffHash = createHash('sha256');
    const blobHash = createHash('sha256');
    const uncompressed = { bytes: 0 };
    const compressed = { bytes: 0 };
    await pipeline(
      Readable.from(randomTar(`data/layer-${index + 1}.bin`, options.layerBytes)),
      hashing(diffHash, uncompressed),
      createGzip({ level: 0 }),
      hashing(blobHash, compressed),
      createWriteStream(partial),
    );
    const hex = blobHash.digest('hex');
    renameSync(partial, path.join(blobs, hex));
    layers.push({ digest: `sha256:${hex}`, size: compressed.bytes, diffId: `sha256:${diffHash.digest('hex')}` });
  }
  const created = '2026-01-01T00:00:00Z';
  const config = writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        created,
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
        history: layers.map((_, index) => ({ created, created_by: `random layer ${index + 1}` })),
      }),
    ),
  );
  const manifest = writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, ...config },
        layers: layers.map((layer) => ({ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size })),
      }),
    ),
  );
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, ...manifest, annotations: { 'org.opencontainers.image.ref.name': options.tag } }],
    }),
  );
  const bytes = layers.reduce((total, layer) => total + layer.size, 0) + config.size + manifest.size;
  return { dir, tag: options.tag, bytes, layerDigests: layers.map((layer) => layer.digest) };
}

// ---------------------------------------------------------------------------------------
// Tools

/** The path of `command` on PATH, or undefined. */
export function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

export function toolVersion(command: string, args: string[]): string {
  const answer = spawnSync(command, args, { encoding: 'utf8' });
  return `${answer.stdout ?? ''}${answer.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
}

// ---------------------------------------------------------------------------------------
// Process memory from /proc (Linux): resident set now (VmRSS) and its high-water mark (VmHWM).

export function procMemory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/**
 * Samples this process's RSS (and other processes' RSS) every `intervalMs` and keeps
 * the peaks. A sampler can miss a spike shorter than its interval; the kernel's
 * high-water marks (resourceUsage().maxRSS, VmHWM) do not, but they only ever grow.
 */
export class MemorySampler {
  selfPeak = 0;
  arrayBuffersPeak = 0;
  readonly peaks = new Map<number, number>();
  samples = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly pids: number[] = [], private readonly intervalMs = 50) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop(): this {
    clearInterval(this.timer);
    this.sample();
    return this;
  }

  peakOf(pid: number | undefined): number {
    return pid === undefined ? NaN : this.peaks.get(pid) ?? NaN;
  }

  private sample(): void {
    this.samples++;
    const usage = process.memoryUsage();
    this.selfPeak = Math.max(this.selfPeak, usage.rss);
    this.arrayBuffersPeak = Math.max(this.arrayBuffersPeak, usage.arrayBuffers);
    for (const pid of this.pids) {
      const rss = procMemory(pid).rss;
      if (Number.isFinite(rss)) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, rss));
    }
  }
}

/**
 * CPU seconds (user + system) a registry has used so far: its process's from /proc,
 * or this process's when it runs here (dockyard, with crew and the harness).
 */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------
// A registry under test, as skopeo reaches it.

export interface Registry {
  /** 'distribution' or 'dockyard' (a second distribution is 'distribution-2'). */
  name: string;
  /** host:port for docker:// references. */
  host: string;
  /** Repositories are `<namespace>/<name>`: dockyard's workspace, or any name. */
  namespace: string;
  /** `user:password` for skopeo, or undefined (no auth). */
  creds?: string;
  /** The registry's process, when it is a process of its own (for its memory). */
  pid?: number;
  /**
   * Token requests the registry's token service has answered so far and the time they
   * took (dockyard: crew's /api/v1/registry/token, which checks a Basic password with
   * scrypt each time); undefined for a registry without auth.
   */
  tokenRequests?: () => { count: number; ms: number };
  stop(): Promise<void>;
}

/** `docker-registry serve` (CNCF distribution) on a free loopback port, storing in `dir`. */
export async function startDistribution(binary: string, dir: string, name: string): Promise<Registry> {
  const port = await freePort();
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const configPath = path.join(dir, 'config.yml');
  // The Debian package's configuration without auth, with a storage and an address of its own.
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  const keep = (chunk: Buffer) => {
    output.push(String(chunk));
    if (output.length > 200) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const host = `127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exit;
    }
  };
  const deadline = now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited at start:\n${output.join('')}`);
    try {
      const answer = await fetch(`http://${host}/v2/`);
      await answer.arrayBuffer();
      if (answer.status === 200) break;
    } catch {
      // not listening yet
    }
    if (now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer GET /v2/ within 15 s:\n${output.join('')}`);
    }
    await sleep(50);
  }
  return { name, host, namespace: 'bench', pid: child.pid, stop };
}

// ---------------------------------------------------------------------------------------
// Crew and dockyard in this process, on MariaDB databases and a subject prefix of their own.

export interface DockyardOptions {
  mysqlUrl: string;
  natsUrl: string;
  subjectPrefix: string;
  crewDatabase: string;
  dockyardDatabase: string;
  storageDir: string;
  adminPassword: string;
  workspace: string;
  logger: Logger;
}

export interface BenchDockyard extends Registry {
  crew: RunningService;
  dockyard: RunningService;
}


async function serviceEnv(options: DockyardOptions, database: string): Promise<Record<string, string>> {
  return {
    CO_HTTP_HOST: '127.0.0.1',
    CO_HTTP_PORT: String(await freePort()),
    CO_GRPC_PORT: String(await freePort()),
    CO_DB_URL: `${options.mysqlUrl}/${database}`,
    CO_NATS_URL: options.natsUrl,
    CO_SUBJECT_PREFIX: options.subjectPrefix,
    CO_LOG_LEVEL: options.logger.level,
    CO_SHUTDOWN_TIMEOUT_MS: '3000',
  };
}

async function json(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/**
 * Crew, then dockyard asking that crew, then the workspace (created by the admin through
 * dockyard's REST API), waiting until crew's copy of the workspace grants the admin
 * push: from then on `skopeo --dest-creds admin:<password>` works. `track` gets each
 * started piece's stop function at once, so that a failure half-way still cleans up.
 */
export async function startDockyard(options: DockyardOptions, track: (label: string, stop: () => Promise<unknown>) => void): Promise<BenchDockyard> {
  // Loaded here, not at the top: the image-writing child process needs none of it.
  const { crewService } = await import('../services/crew/src/crew.service');
  const { dockyardService } = await import('../services/dockyard/src/dockyard.service');
  const crewEnv = await serviceEnv(options, options.crewDatabase);
  const crew = await withEnv({ CO_ADMIN_PASSWORD: options.adminPassword }, () =>
    startService(crewService, loadServiceConfig('crew', crewEnv), { logger: options.logger.child({ service: 'crew' }) }),
  );
  track('stop crew', () => crew.close());
  const dockyardEnv = await serviceEnv(options, options.dockyardDatabase);
  const host = `127.0.0.1:${dockyardEnv.CO_HTTP_PORT}`;
  // The registry's service name (the audience of its tokens): its address, as distribution's setups do.
  const serviceName = host;
  const dockyard = await withEnv(
    {
      CO_CREW_URL: crew.httpUrl,
      CO_CREW_GRPC_ADDRESS: crew.grpcAddress,
      CO_DOCKYARD_STORAGE_DIR: options.storageDir,
      CO_DOCKYARD_SERVICE_NAME: serviceName,
      CO_DOCKYARD_TOKEN_REALM: `${crew.httpUrl}/api/v1/registry/token`,
    },
    () => startService(dockyardService, loadServiceConfig('dockyard', dockyardEnv), { logger: options.logger.child({ service: 'dockyard' }) }),
  );
  track('stop dockyard', () => dockyard.close());

  const login = await fetch(`${crew.httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: options.adminPassword }),
  });
  const tokens = await json(login);
  if (login.status !== 200) throw new Error(`logging in to crew as admin answered ${login.status}: ${JSON.stringify(tokens)}`);
  const adminToken = tokens.accessToken as string;

  const created = await fetch(`http://${host}/api/v1/workspaces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ name: options.workspace, org: 'default', project: 'admin', visibility: 'private' }),
  });
  const workspace = await json(created);
  if (created.status !== 201) {
    const error = `POST /api/v1/workspaces answered ${created.status}: ${JSON.stringify(workspace)}`;
    throw created.status === 404 ? new DockyardNotReady(error) : new Error(error);
  }

  // Crew learns about workspaces from dockyard's events: wait until a token grants push.
  const scope = `repository:${options.workspace}/probe:push`;
  const deadline = now() + 30_000;
  for (;;) {
    const answer = await fetch(`${crew.httpUrl}/api/v1/registry/token?service=${encodeURIComponent(serviceName)}&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const body = await json(answer);
    if (answer.status === 200) {
      const claims = JSON.parse(Buffer.from(String(body.token).split('.')[1], 'base64url').toString('utf8'));
      if ((claims.access ?? []).some((entry: { actions: string[] }) => entry.actions.includes('push'))) break;
    } else if (answer.status !== 401 && answer.status !== 403) {
      throw new Error(`crew's token endpoint answered ${answer.status}: ${JSON.stringify(body)}`);
    }
    if (now() > deadline) throw new Error(`crew did not grant push on workspace ${options.workspace} within 30 s of its creation (workspace events not consumed?)`);
    await sleep(100);
  }

  const ping = await fetch(`http://${host}/v2/`);
  await ping.arrayBuffer();
  if (ping.status !== 401 && ping.status !== 200) {
    throw new DockyardNotReady(`dockyard answers GET /v2/ with ${ping.status} (expected 401 with a Bearer challenge): its registry API is not wired in yet`);
  }

  // Counts crew's answers to token requests, so that the report can show what the auth
  // round trip (which distribution, run without auth, skips) costs per copy.
  const tokenAnswers = { count: 0, ms: 0 };
  (crew.app.getHttpServer() as Server).on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!(req.url ?? '').startsWith('/api/v1/registry/token')) return;
    const began = now();
    res.once('finish', () => {
      tokenAnswers.count++;
      tokenAnswers.ms += now() - began;
    });
  });

  return {
    name: 'dockyard',
    host,
    tokenRequests: () => ({ ...tokenAnswers }),
    namespace: options.workspace,
    creds: `admin:${options.adminPassword}`,
    crew,
    dockyard,
    stop: async () => undefined, // crew and dockyard are stopped through `track`
  };
}

export class DockyardNotReady extends Error {}

// ---------------------------------------------------------------------------------------
// skopeo

export interface SkopeoEnv {
  /** A registries.conf naming the registries under test as insecure (plain HTTP). */
  registriesConf: string;
  /** An empty auth file, so that no stored login is used. */
  authFile: string;
}

export function writeSkopeoEnv(dir: string, hosts: string[]): SkopeoEnv {
  const registriesConf = path.join(dir, 'registries.conf');
  writeFileSync(
    registriesConf,
    ['unqualified-search-registries = []', ...hosts.flatMap((host) => ['', '[[registry]]', `location = "${host}"`, 'insecure = true'])].join('\n') + '\n',
  );
  const authFile = path.join(dir, 'auth.json');
  writeFileSync(authFile, '{"auths":{}}\n');
  return { registriesConf, authFile };
}

export interface CopyResult {
  ms: number;
  /** Blobs skopeo did not send because the destination had them already. */
  skipped: number;
  output: string;
}

/** Runs `skopeo copy …` and times it from spawn to exit. */
export function skopeoCopy(env: SkopeoEnv, args: string[], timeoutMs: number): Promise<CopyResult> {
  return new Promise((resolve, reject) => {
    const began = now();
    const child = spawn('skopeo', ['copy', '--insecure-policy', '--retry-times', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CONTAINERS_REGISTRIES_CONF: env.registriesConf, REGISTRY_AUTH_FILE: env.authFile },
    });
    tracked(child);
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const ms = now() - began;
      if (code !== 0) {
        const shown = args.map((arg) => arg.replace(/(--(?:src|dest)-creds=?)\S+/, '$1***'));
        reject(new Error(`skopeo copy ${shown.join(' ')} failed (${signal ?? `exit ${code}`}${signal === 'SIGKILL' ? `, killed after ${timeoutMs} ms` : ''}):\n${output.trim()}`));
        return;
      }
      resolve({ ms, skipped: (output.match(/skipped: already exists/g) ?? []).length, output });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Writing the image in a child process, so that its buffers never count in this
// process's memory figures (dockyard runs in this process).

export function writeTestImageInChild(dir: string, options: { layers: number; layerBytes: number; tag: string }): Promise<TestImage> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, '--write-image', dir, String(options.layers), String(options.layerBytes), options.tag], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tracked(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`writing the test image failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as TestImage);
      } catch (error) {
        reject(new Error(`writing the test image printed no result: ${(error as Error).message}\n${stdout}${stderr}`));
      }
    });
  });
}

if (require.main === module && process.argv[2] === '--write-image') {
  const [dir, layers, layerBytes, tag] = process.argv.slice(3);
  writeTestImage(dir, { layers: Number(layers), layerBytes: Number(layerBytes), tag }).then(
    (image) => process.stdout.write(`${JSON.stringify(image)}\n`),
    (error: Error) => {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
