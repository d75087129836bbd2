import type { Logger } from 'pino';
import { CONTAINER_LABELS, type ContainerRuntime, type VolumeMount, VolumeInUseError } from '../runtime/container-runtime';

/** Where every task container of a run finds the run's workspace (given to components as CO_WORKSPACE). */
export const WORKSPACE_PATH = '/workspace';

/** How often volumes of runs that ended are looked for (besides at every engine start). */
export const WORKSPACE_SWEEP_INTERVAL_MS = 10 * 60_000;

/** Labels a workspace volume carries on top of the run's and the engine's. */
const WORKSPACE_LABEL = 'co.workspace';

export function workspaceVolume(runId: string): string {
  return `co-run-${runId}`;
}

/**
 * One named volume per run, mounted at /workspace in each of its task containers (every
 * attempt), so that what one action leaves there (a clone, a build) the later ones see.
 * Created before a run's first container; removed when the run ends. A volume whose
 * removal failed (engine down, a crash, a failed container kept for inspection) is found
 * again by its labels and removed by a later sweep.
 */
export class RunWorkspaces {
  /** Volumes created by this engine's life, so that a run's later tasks skip the call. */
  private readonly prepared = new Map<string, Promise<VolumeMount>>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly engineId: string,
    private readonly logger: Logger,
  ) {}

  /** Creates the run's volume unless it exists; the mount to give its containers. */
  prepare(runId: string): Promise<VolumeMount> {
    let prepared = this.prepared.get(runId);
    if (!prepared) {
      const volume = workspaceVolume(runId);
      const labels = { [CONTAINER_LABELS.managed]: this.engineId, [CONTAINER_LABELS.run]: runId, [WORKSPACE_LABEL]: 'true' };
      prepared = this.runtime.createVolume(volume, labels).then(() => ({ volume, target: WORKSPACE_PATH }));
      prepared.catch(() => this.prepared.delete(runId));
      this.prepared.set(runId, prepared);
    }
    return prepared;
  }

  /** Best effort: a failure is logged and left to the next sweep. */
  async release(runId: string): Promise<void> {
    this.prepared.delete(runId);
    await this.remove(workspaceVolume(runId), runId);
  }

  /** Removes this engine's workspace volumes of runs not in `active`. */
  async sweep(active: (runId: string) => boolean): Promise<void> {
    let volumes;
    try {
      volumes = await this.runtime.listVolumes({ [CONTAINER_LABELS.managed]: this.engineId, [WORKSPACE_LABEL]: 'true' });
    } catch (error) {
      this.logger.warn({ err: error }, 'could not list run workspaces; looked for again at the next sweep');
      return;
    }
    for (const volume of volumes) {
      const runId = volume.labels[CONTAINER_LABELS.run];
      if (!runId || active(runId)) continue;
      this.prepared.delete(runId);
      await this.remove(volume.name, runId, 'debug');
    }
  }

  private async remove(volume: string, runId: string, inUseLevel: 'info' | 'debug' = 'info'): Promise<void> {
    try {
      await this.runtime.removeVolume(volume);
    } catch (error) {
      if (error instanceof VolumeInUseError) {
        // Kept failed containers hold it; it goes at a sweep after they are removed.
        this.logger[inUseLevel]({ run: runId, volume }, 'run workspace still used by a kept container; removed by a later sweep');
        return;
      }
      this.logger.warn({ err: error, run: runId, volume }, 'could not remove a run workspace; removed by a later sweep');
    }
  }
}
