/**
 * A pass-through ContainerRuntime that times every call of the runtime it wraps (the
 * real DockerRuntime), so that the benchmark can tell the container engine's time
 * from the engine's own. It adds two performance.now() readings and an array push per
 * call; the benchmark wraps both sides of a comparison the same way.
 */
import { performance } from 'node:perf_hooks';
import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  LogLine,
  PullProgress,
  VolumeInfo,
} from '../services/pilotage/src/runtime/container-runtime';

export type RuntimeMethod = 'ping' | 'hasImage' | 'pull' | 'create' | 'start' | 'inspect' | 'list' | 'logs' | 'wait' | 'stop' | 'remove' | 'createVolume' | 'listVolumes' | 'removeVolume';

export interface RuntimeCall {
  method: RuntimeMethod;
  /** Container name when known (create, or a call by id of a container created here, or by name). */
  container?: string;
  began: number;
  ended: number;
  failed?: boolean;
}

export class TimedRuntime implements ContainerRuntime {
  readonly calls: RuntimeCall[] = [];
  private readonly names = new Map<string, string>();

  constructor(private readonly inner: ContainerRuntime) {}

  get kind(): string {
    return this.inner.kind;
  }

  /** Forgets the calls recorded so far. */
  reset(): void {
    this.calls.length = 0;
  }

  private async timed<T>(method: RuntimeMethod, key: string | undefined, work: () => Promise<T>): Promise<T> {
    const began = performance.now();
    let failed = false;
    try {
      return await work();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      this.calls.push({ method, container: key && (this.names.get(key) ?? key), began, ended: performance.now(), ...(failed ? { failed } : {}) });
    }
  }

  ping(): Promise<void> {
    return this.timed('ping', undefined, () => this.inner.ping());
  }

  hasImage(image: string): Promise<boolean> {
    return this.timed('hasImage', undefined, () => this.inner.hasImage(image));
  }

  pull(image: string, progress?: PullProgress): Promise<void> {
    return this.timed('pull', undefined, () => this.inner.pull(image, progress));
  }

  async create(spec: ContainerSpec): Promise<string> {
    const id = await this.timed('create', spec.name, () => this.inner.create(spec));
    this.names.set(id, spec.name);
    return id;
  }

  start(id: string): Promise<void> {
    return this.timed('start', id, () => this.inner.start(id));
  }

  inspect(idOrName: string): Promise<ContainerInfo | undefined> {
    return this.timed('inspect', idOrName, () => this.inner.inspect(idOrName));
  }

  list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return this.timed('list', undefined, () => this.inner.list(labels));
  }

  async *logs(id: string, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const began = performance.now();
    let failed = false;
    try {
      yield* this.inner.logs(id, options);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      this.calls.push({ method: 'logs', container: this.names.get(id) ?? id, began, ended: performance.now(), ...(failed ? { failed } : {}) });
    }
  }

  wait(id: string): Promise<number> {
    return this.timed('wait', id, () => this.inner.wait(id));
  }

  stop(id: string, graceSeconds: number): Promise<void> {
    return this.timed('stop', id, () => this.inner.stop(id, graceSeconds));
  }

  remove(id: string): Promise<void> {
    return this.timed('remove', id, () => this.inner.remove(id));
  }

  createVolume(name: string, labels: Record<string, string>): Promise<void> {
    return this.timed('createVolume', undefined, () => this.inner.createVolume(name, labels));
  }

  listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]> {
    return this.timed('listVolumes', undefined, () => this.inner.listVolumes(labels));
  }

  removeVolume(name: string): Promise<void> {
    return this.timed('removeVolume', undefined, () => this.inner.removeVolume(name));
  }
}
