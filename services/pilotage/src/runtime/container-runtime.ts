/**
 * The port through which the engine runs task containers. The `docker` adapter speaks
 * the Docker Engine API (Docker or Podman's compatible socket); a Kubernetes adapter
 * follows the same contract with one Pod per task.
 */
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Labels every task container carries, so that a restarted engine can find it. */
export const CONTAINER_LABELS = {
  run: 'co.run',
  task: 'co.task',
  attempt: 'co.attempt',
  /** The id of the engine that created the container (`co.managed=pilotage-…`): engines sharing a container engine leave each other's containers alone. */
  managed: 'co.managed',
} as const;

export interface ContainerSpec {
  /** Deterministic name: creating it twice fails with ContainerNameTakenError. */
  name: string;
  image: string;
  /** Overrides the image's entrypoint when given. */
  command?: string[];
  /** Arguments after the command (or after the image's entrypoint). */
  args?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  workingDir?: string;
  /** CPU limit in cores (0.5 = half a core). */
  cpu?: number;
  /** Memory limit in bytes. */
  memoryBytes?: number;
  /** Docker network mode, e.g. `bridge`, `host`; the engine's default when absent. */
  network?: string;
  /** Named volumes to mount (created beforehand with createVolume). */
  volumes?: VolumeMount[];
}

export interface VolumeMount {
  volume: string;
  /** Absolute path inside the container. */
  target: string;
}

export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
}

export type ContainerState = 'created' | 'running' | 'exited';

export interface ContainerInfo {
  id: string;
  name: string;
  state: ContainerState;
  labels: Record<string, string>;
  exitCode?: number;
  oomKilled?: boolean;
  startedAt?: Date;
  finishedAt?: Date;
  /** Runtime's own error for a container that could not start. */
  error?: string;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** Time the runtime stamped on the line. */
  time: Date;
  text: string;
}

export interface PullProgress {
  (message: string): void;
}

export interface ContainerRuntime {
  readonly kind: string;
  /** Resolves when the engine answers; rejects with RuntimeUnavailableError otherwise. */
  ping(): Promise<void>;
  /** True when the image is present locally. */
  hasImage(image: string): Promise<boolean>;
  /** Pulls an image (with configured registry credentials); rejects with ImageNotFoundError / RegistryUnavailableError. */
  pull(image: string, progress?: PullProgress): Promise<void>;
  /** Creates (does not start) a container; ContainerNameTakenError when the name exists. */
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  inspect(idOrName: string): Promise<ContainerInfo | undefined>;
  /** Containers carrying all the given labels (running or not). */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /**
   * Every log line from the container's start, then live lines until it exits (when
   * `follow`). Ends when the container has exited and its output is drained.
   */
  logs(id: string, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogLine>;
  /** Resolves with the exit code once the container has exited. */
  wait(id: string): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceSeconds`; no error when already stopped. */
  stop(id: string, graceSeconds: number): Promise<void>;
  /** Removes the container (forcibly); no error when it is already gone. */
  remove(id: string): Promise<void>;
  /** Creates a named volume with labels; one that exists already is kept as it is. */
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Volumes carrying all the given labels. */
  listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]>;
  /** Removes a volume; no error when it is gone, VolumeInUseError while a container still uses it. */
  removeVolume(name: string): Promise<void>;
}

export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly reason: 'unavailable' | 'image-not-found' | 'registry-unavailable' | 'name-taken' | 'volume-in-use' | 'failed',
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class RuntimeUnavailableError extends RuntimeError {
  constructor(message: string) {
    super(message, 'unavailable');
  }
}

export class ImageNotFoundError extends RuntimeError {
  constructor(message: string) {
    super(message, 'image-not-found');
  }
}

export class RegistryUnavailableError extends RuntimeError {
  constructor(message: string) {
    super(message, 'registry-unavailable');
  }
}

export class ContainerNameTakenError extends RuntimeError {
  constructor(name: string) {
    super(`a container named ${name} already exists`, 'name-taken');
  }
}

/** A container (e.g. a failed one kept for inspection) still mounts the volume. */
export class VolumeInUseError extends RuntimeError {
  constructor(name: string, detail: string) {
    super(`volume ${name} is still used by a container: ${detail}`, 'volume-in-use');
  }
}
