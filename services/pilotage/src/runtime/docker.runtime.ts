import type { IncomingMessage } from 'node:http';
import {
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerState,
  ContainerNameTakenError,
  ImageNotFoundError,
  type LogLine,
  type PullProgress,
  RegistryUnavailableError,
  RuntimeError,
  RuntimeUnavailableError,
  type VolumeInfo,
  VolumeInUseError,
} from './container-runtime';
import { DockerApiError, DockerEngineClient, demultiplexLogs, readJsonLines } from './docker-engine.client';
import { resolveDockerSocket } from './docker-socket';

/**
 * Calls that should answer at once get this long before they count as a hung engine
 * (pulls, waits and log streams are long by nature and have none).
 */
const CALL_TIMEOUT_MS = 60_000;

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface DockerRuntimeOptions {
  /** The engine's unix socket; default: see resolveDockerSocket. */
  socketPath?: string;
  /** A DOCKER_HOST-style address (`unix:///path`, `tcp://host:port`), used when socketPath and baseUrl are not given. */
  dockerHost?: string;
  /** A plain-HTTP engine, e.g. `http://127.0.0.1:2375`, instead of a socket. */
  baseUrl?: string;
  /** Credentials by registry host (`registry.example.com:5000`, `docker.io`). */
  registryAuth?: Record<string, RegistryCredentials>;
  apiVersion?: string;
}

/**
 * The `docker` adapter: the Docker Engine API, which Podman serves as well. Podman 4.3
 * (checked against its compatible socket) differs from Docker in ways handled here:
 * - a taken container name is answered 500 "... is already in use", not 409;
 * - a start that fails (command not found) is answered 500 and leaves the container
 *   `created` with no State.Error, and wait then answers -1: start() throws instead;
 * - log timestamps have whole seconds only, and stdout/stderr written within the same
 *   instant may come out of order across the two streams (conmon reads two pipes);
 *   each stream keeps its own order;
 * - logs with follow end on their own about half a second after the container exits,
 *   with every line; on a container not started yet they end at once, empty;
 * - OOMKilled stays false on this host's cgroup v1 even when the kernel OOM-killed the
 *   container (exit code 137);
 * - a volume list filtered by several labels holds volumes with any of them, not all.
 */
export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker';
  private readonly engine: DockerEngineClient;
  private readonly registryAuth: Record<string, RegistryCredentials>;

  constructor(options: DockerRuntimeOptions = {}) {
    const endpoint = options.socketPath
      ? { socketPath: options.socketPath }
      : options.baseUrl
        ? { baseUrl: options.baseUrl }
        : resolveDockerSocket(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : process.env);
    this.engine = new DockerEngineClient(endpoint, options.apiVersion);
    this.registryAuth = options.registryAuth ?? {};
  }

  async ping(): Promise<void> {
    try {
      await this.engine.call('GET', '/_ping', { timeoutMs: 10_000 });
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) throw error;
      throw new RuntimeUnavailableError(`the container engine at ${this.engine.endpoint} is not healthy: ${(error as Error).message}`);
    }
  }

  async hasImage(image: string): Promise<boolean> {
    const { status } = await this.engine.call('GET', `/images/${imagePath(image)}/json`, { allow: [404], timeoutMs: CALL_TIMEOUT_MS });
    return status !== 404;
  }

  async pull(image: string, progress?: PullProgress): Promise<void> {
    const reference = parseImageReference(image);
    const credentials = this.credentialsFor(reference.registry);
    let response: IncomingMessage;
    try {
      response = await this.engine.stream('POST', '/images/create', {
        // Without a tag the engine would pull every tag of the repository.
        query: { fromImage: reference.name, tag: reference.digest ?? reference.tag ?? 'latest' },
        headers: credentials && { 'X-Registry-Auth': registryAuthHeader(credentials, reference.registry) },
      });
    } catch (error) {
      throw error instanceof DockerApiError ? pullError(image, reference.registry, error.engineMessage, error.status) : error;
    }
    // The answer is 200 as soon as the pull starts; a failure comes as an `error` message in the stream.
    try {
      for await (const message of readJsonLines<PullMessage>(response)) {
        const failure = message.errorDetail?.message || message.error;
        if (failure) throw pullError(image, reference.registry, failure);
        if (progress && message.status) progress([message.id, message.status, message.progress].filter(Boolean).join(' '));
      }
    } catch (error) {
      throw this.engine.connectionError(error as Error);
    } finally {
      response.destroy();
    }
  }

  async create(spec: ContainerSpec): Promise<string> {
    try {
      const { body } = await this.engine.call<{ Id: string }>('POST', '/containers/create', {
        timeoutMs: CALL_TIMEOUT_MS,
        query: { name: spec.name },
        body: containerConfig(spec),
      });
      return body.Id;
    } catch (error) {
      if (!(error instanceof DockerApiError)) throw error;
      if (error.status === 409 || /already in use/i.test(error.engineMessage)) throw new ContainerNameTakenError(spec.name);
      if (error.status === 404) throw new ImageNotFoundError(`image ${spec.image} is not present locally; pull it first (${error.engineMessage})`);
      throw new RuntimeError(`container ${spec.name} could not be created: ${error.engineMessage}`, 'failed');
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.engine.call('POST', `/containers/${encodeURIComponent(id)}/start`, { timeoutMs: CALL_TIMEOUT_MS }); // 304: already started
    } catch (error) {
      if (!(error instanceof DockerApiError)) throw error;
      throw new RuntimeError(`container ${id} could not start: ${error.engineMessage}`, 'failed');
    }
  }

  async inspect(idOrName: string): Promise<ContainerInfo | undefined> {
    const { status, body } = await this.engine.call<InspectAnswer>('GET', `/containers/${encodeURIComponent(idOrName)}/json`, { allow: [404], timeoutMs: CALL_TIMEOUT_MS });
    return status === 404 ? undefined : containerInfo(body);
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) });
    const { body } = await this.engine.call<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: true, filters }, timeoutMs: CALL_TIMEOUT_MS });
    // The summaries lack exit codes and times; inspect each (one that vanished meanwhile is skipped).
    const infos = await Promise.all(body.map((summary) => this.inspect(summary.Id)));
    return infos.filter((info): info is ContainerInfo => info !== undefined);
  }

  async *logs(id: string, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const { follow, signal } = options;
    if (signal?.aborted) return;
    let response: IncomingMessage | undefined;
    try {
      response = await this.engine.stream('GET', `/containers/${encodeURIComponent(id)}/logs`, {
        query: { stdout: 1, stderr: 1, timestamps: 1, follow: follow ? 1 : 0 },
        signal,
      });
      yield* demultiplexLogs(response);
    } catch (error) {
      if (!signal?.aborted) throw this.engine.connectionError(error as Error); // aborting just ends the lines
    } finally {
      response?.destroy();
    }
  }

  async wait(id: string): Promise<number> {
    const path = `/containers/${encodeURIComponent(id)}/wait`;
    const { body } = await this.engine.call<WaitAnswer>('POST', path, { query: { condition: 'not-running' } });
    if (body.Error?.Message) throw new RuntimeError(`waiting for container ${id} failed: ${body.Error.Message}`, 'failed');
    return body.StatusCode;
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    // The engine sends SIGTERM, then SIGKILL after `t` seconds; 304 = not running, 404 = gone.
    const t = Math.max(0, Math.ceil(graceSeconds));
    await this.engine.call('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t }, allow: [404], timeoutMs: CALL_TIMEOUT_MS + t * 1000 });
  }

  async remove(id: string): Promise<void> {
    const { status, body } = await this.engine.call<{ message?: string }>('DELETE', `/containers/${encodeURIComponent(id)}`, {
      timeoutMs: CALL_TIMEOUT_MS,
      query: { force: true, v: true },
      allow: [404, 409],
    });
    if (status === 409 && !/already in progress/i.test(body?.message ?? '')) {
      throw new RuntimeError(`container ${id} could not be removed: ${body?.message}`, 'failed');
    }
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    // Answered 201 with the existing volume when the name is taken (Docker and Podman alike).
    await this.engine.call('POST', '/volumes/create', { timeoutMs: CALL_TIMEOUT_MS, body: { Name: name, Labels: labels } });
  }

  async listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]> {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) });
    const { body } = await this.engine.call<{ Volumes?: Array<{ Name: string; Labels?: Record<string, string> | null }> | null }>('GET', '/volumes', {
      query: { filters },
      timeoutMs: CALL_TIMEOUT_MS,
    });
    // Podman 4.3 matches volumes carrying any of the labels, not all: checked again here.
    return (body?.Volumes ?? [])
      .map((volume) => ({ name: volume.Name, labels: volume.Labels ?? {} }))
      .filter((volume) => Object.entries(labels).every(([key, value]) => volume.labels[key] === value));
  }

  async removeVolume(name: string): Promise<void> {
    // Without `force`: a volume a kept container still mounts stays until a later sweep.
    const { status, body } = await this.engine.call<{ message?: string }>('DELETE', `/volumes/${encodeURIComponent(name)}`, {
      timeoutMs: CALL_TIMEOUT_MS,
      allow: [404, 409],
    });
    if (status === 409) throw new VolumeInUseError(name, body?.message ?? 'in use');
  }

  private credentialsFor(registry: string): RegistryCredentials | undefined {
    return Object.entries(this.registryAuth).find(([host]) => registryHost(host) === registry)?.[1];
  }
}

export interface ImageReference {
  /** Registry host; `docker.io` for names without one. */
  registry: string;
  /** The repository as written, with its registry but without tag or digest. */
  name: string;
  tag?: string;
  digest?: string;
}

/** Splits an image reference the way Docker does (`localhost/x:1`, `127.0.0.1:5000/a/b:t`, `busybox`, `x@sha256:…`). */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  let name = at >= 0 ? image.slice(0, at) : image;
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  // The first path component is a registry only when it looks like a host.
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const registry = /[.:]/.test(first) || first === 'localhost' ? first : 'docker.io';
  return { registry, name, tag, digest };
}

function registryHost(key: string): string {
  const host = key.replace(/^\w+:\/\//, '').replace(/\/.*$/, '');
  return ['index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
}

/** X-Registry-Auth is base64url (with padding, as the Docker CLI sends it) of the JSON credentials. */
function registryAuthHeader(credentials: RegistryCredentials, registry: string): string {
  const json = JSON.stringify({ username: credentials.username, password: credentials.password, serveraddress: registry });
  return Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

const REGISTRY_UNREACHABLE = new RegExp(
  [
    'connection refused|connection reset|no such host|server misbehaving|network is unreachable|no route to host',
    'timeout|\\bEOF\\b|\\btls\\b|x509|certificate|too many requests|service unavailable|bad gateway',
  ].join('|'),
  'i',
);
// Registries answer "unauthorized"/"denied" for images that do not exist as well as for wrong credentials.
const IMAGE_MISSING = /manifest unknown|not found|no such image|name unknown|does not exist|unauthorized|denied|authentication required/i;

function pullError(image: string, registry: string, detail: string, status?: number): RuntimeError {
  if (REGISTRY_UNREACHABLE.test(detail)) return new RegistryUnavailableError(`cannot pull ${image}: registry ${registry} is unreachable (${detail})`);
  if (IMAGE_MISSING.test(detail) || status === 404) {
    return new ImageNotFoundError(`cannot pull ${image}: registry ${registry} has no such image or refused access to it (${detail})`);
  }
  return new RuntimeError(`cannot pull ${image}: ${detail}`, 'failed');
}

/** Image names keep their slashes in the path (`/images/localhost/x:1/json`). */
function imagePath(image: string): string {
  return image.split('/').map(encodeURIComponent).join('/');
}

function containerConfig(spec: ContainerSpec): Record<string, unknown> {
  return {
    Image: spec.image,
    // As `docker run --entrypoint`: a command replaces the image's entrypoint, args are its Cmd.
    ...(spec.command ? { Entrypoint: spec.command, Cmd: spec.args ?? [] } : spec.args ? { Cmd: spec.args } : {}),
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: spec.labels,
    WorkingDir: spec.workingDir,
    Tty: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NanoCpus: spec.cpu === undefined ? undefined : Math.round(spec.cpu * 1e9),
      Memory: spec.memoryBytes,
      NetworkMode: spec.network,
      Mounts: spec.volumes?.map((mount) => ({ Type: 'volume', Source: mount.volume, Target: mount.target })),
    },
  };
}

interface PullMessage {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

interface WaitAnswer {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

interface InspectAnswer {
  Id: string;
  Name: string;
  Config?: { Labels?: Record<string, string> | null };
  State?: { Status?: string; Running?: boolean; ExitCode?: number; OOMKilled?: boolean; StartedAt?: string; FinishedAt?: string; Error?: string };
}

// Paused and restarting containers still hold the task; `configured` and `stopped` are
// Podman's own names for created and exited; a dead or removing container has ended.
const STATES: Record<string, ContainerState> = {
  created: 'created',
  configured: 'created',
  running: 'running',
  paused: 'running',
  restarting: 'running',
  stopping: 'running',
  exited: 'exited',
  stopped: 'exited',
  dead: 'exited',
  removing: 'exited',
};

function containerInfo(answer: InspectAnswer): ContainerInfo {
  const state = answer.State ?? {};
  const info: ContainerInfo = {
    id: answer.Id,
    name: answer.Name.replace(/^\//, ''),
    state: STATES[state.Status?.toLowerCase() ?? ''] ?? (state.Running ? 'running' : 'exited'),
    labels: answer.Config?.Labels ?? {},
    startedAt: engineTime(state.StartedAt),
    finishedAt: engineTime(state.FinishedAt),
    error: state.Error || undefined,
  };
  if (info.state === 'exited') {
    info.exitCode = state.ExitCode;
    info.oomKilled = state.OOMKilled ?? false;
  }
  return info;
}

/** Engines write "0001-01-01T00:00:00Z" for times that have not happened. */
function engineTime(text: string | undefined): Date | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}
