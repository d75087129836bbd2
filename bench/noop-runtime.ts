/**
 * A container runtime that runs nothing, for the engine benchmark only: every
 * container exists in memory, "runs" instantly and exits 0. It records when each
 * container was created, started and waited for, so that the benchmark can measure
 * the engine's own scheduling latency (one task's end to the next task's start) with
 * no container engine in the way.
 */
import { performance } from 'node:perf_hooks';
import {
  ContainerNameTakenError,
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerSpec,
  type LogLine,
  type VolumeInfo,
} from '../services/pilotage/src/runtime/container-runtime';

export interface NoopTimes {
  name: string;
  labels: Record<string, string>;
  /** performance.now() when create/start were called and when wait resolved. */
  created: number;
  started?: number;
  waited?: number;
  removed?: number;
}

interface NoopContainer {
  info: ContainerInfo;
  times: NoopTimes;
}

export interface NoopRuntimeOptions {
  /** Log lines each container prints: 0 (none) or more `[COUT] <key> = <n>` lines. */
  lines?: number;
  /** The output key of those lines (declare it on the action to have it recorded). */
  outputKey?: string;
}

export class NoopRuntime implements ContainerRuntime {
  readonly kind = 'noop';
  private readonly byId = new Map<string, NoopContainer>();
  private readonly byName = new Map<string, NoopContainer>();
  /** Every container ever created, by name (kept after removal). */
  readonly times = new Map<string, NoopTimes>();
  private counter = 0;
  readonly calls = { ping: 0, hasImage: 0, pull: 0, create: 0, start: 0, inspect: 0, list: 0, logs: 0, wait: 0, stop: 0, remove: 0 };

  constructor(private readonly options: NoopRuntimeOptions = {}) {}

  async ping(): Promise<void> {
    this.calls.ping += 1;
  }

  async hasImage(): Promise<boolean> {
    this.calls.hasImage += 1;
    return true;
  }

  async pull(): Promise<void> {
    this.calls.pull += 1;
  }

  async create(spec: ContainerSpec): Promise<string> {
    this.calls.create += 1;
    if (this.byName.has(spec.name)) throw new ContainerNameTakenError(spec.name);
    const id = `noop${(++this.counter).toString(16).padStart(12, '0')}`;
    const times: NoopTimes = { name: spec.name, labels: spec.labels, created: performance.now() };
    const container: NoopContainer = { info: { id, name: spec.name, state: 'created', labels: spec.labels }, times };
    this.byId.set(id, container);
    this.byName.set(spec.name, container);
    this.times.set(spec.name, times);
    return id;
  }

  async start(id: string): Promise<void> {
    this.calls.start += 1;
    const container = this.get(id);
    if (!container || container.info.state !== 'created') return;
    container.times.started = performance.now();
    container.info.state = 'running';
    container.info.startedAt = new Date();
  }

  async inspect(idOrName: string): Promise<ContainerInfo | undefined> {
    this.calls.inspect += 1;
    const container = this.get(idOrName);
    return container && { ...container.info };
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    this.calls.list += 1;
    return [...this.byId.values()]
      .filter((container) => Object.entries(labels).every(([key, value]) => container.info.labels[key] === value))
      .map((container) => ({ ...container.info }));
  }

  async *logs(id: string): AsyncIterable<LogLine> {
    this.calls.logs += 1;
    const lines = this.options.lines ?? 0;
    const key = this.options.outputKey ?? 'n';
    if (!this.get(id)) return;
    for (let index = 1; index <= lines; index++) {
      yield { stream: 'stdout', time: new Date(), text: `[COUT] ${key} = ${index}` };
    }
  }

  async wait(id: string): Promise<number> {
    this.calls.wait += 1;
    const container = this.get(id);
    if (!container) return 0;
    this.exit(container);
    container.times.waited ??= performance.now();
    return 0;
  }

  async stop(id: string): Promise<void> {
    this.calls.stop += 1;
    const container = this.get(id);
    if (container) this.exit(container, 143);
  }

  async remove(id: string): Promise<void> {
    this.calls.remove += 1;
    const container = this.get(id);
    if (!container) return;
    container.times.removed = performance.now();
    this.byId.delete(container.info.id);
    this.byName.delete(container.info.name);
  }

  /** Containers still present (not removed). */
  get present(): number {
    return this.byId.size;
  }

  private exit(container: NoopContainer, code = 0): void {
    if (container.info.state === 'exited') return;
    container.info.state = 'exited';
    container.info.exitCode = code;
    container.info.oomKilled = false;
    container.info.finishedAt = new Date();
  }

  /** Volumes cost nothing here: the benchmark measures the engine, not storage. */
  async createVolume(): Promise<void> {}

  async listVolumes(): Promise<VolumeInfo[]> {
    return [];
  }

  async removeVolume(): Promise<void> {}

  private get(idOrName: string): NoopContainer | undefined {
    return this.byId.get(idOrName) ?? this.byName.get(idOrName);
  }
}
