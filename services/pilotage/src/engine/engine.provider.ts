import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { TERMINAL_RUN_STATUSES } from '../runs/run.events';
import { RUNS_PROJECTION } from '../runs/runs.projection';
import { projectionCheckpointName } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { CONTAINER_RUNTIME, ENGINE_IDENTITY, ENGINE_SETTINGS } from './engine.tokens';
import type { ContainerRuntime } from '../runtime/container-runtime';
import { Engine } from './engine';
import { EngineLeadership } from './engine-leadership';
import { EngineMetrics } from './engine-metrics';
import type { EngineSettings } from './engine-settings';
import { TaskLogStore } from './task-logs';
import { TaskTokens } from './task-token';
import { RunSecretStore } from '../runs/run-secrets';
import { LogMaskClient, LogMaskRegistrar } from './log-masks';

/** Starts the engine once the service is up and stops it before the database closes. */
@Injectable()
export class EngineLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private engine?: Engine;
  private leadership?: EngineLeadership;
  private masks?: LogMaskRegistrar;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(CONTAINER_RUNTIME) private readonly containers: ContainerRuntime,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
    @Inject(ENGINE_IDENTITY) private readonly identity: { engineId: string },
    private readonly logs: TaskLogStore,
    private readonly tokens: TaskTokens,
    private readonly secrets: RunSecretStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.settings.engineEnabled) return;
    const logger = this.runtime.logger.child({ component: 'engine' });
    await this.containers.ping().catch((error: Error) => {
      logger.warn(`${error.message}; tasks fail with this reason until the container engine answers`);
    });
    const { db, checkpoints } = this.runtime;
    const masks = (this.masks = new LogMaskRegistrar(new LogMaskClient(this.settings.logarithmGrpcAddress), this.runtime.logger.child({ component: 'log-masks' })));
    let engine: Engine | undefined = undefined;
    const metrics = new EngineMetrics(this.runtime.metrics.registry, () => engine?.activeRuns ?? 0);
    engine = this.engine = new Engine({
      metrics,
      store: this.runtime.store,
      runtime: this.containers,
      logs: this.logs,
      tokens: this.tokens,
      settings: this.settings,
      secrets: this.secrets,
      masks,
      engineId: this.identity.engineId,
      logger,
      async activeRuns() {
        const name = projectionCheckpointName(RUNS_PROJECTION);
        await checkpoints.ensure(name);
        const position = await checkpoints.get(name);
        const rows = await db.query<{ stream_id: string }[]>(
          `SELECT stream_id FROM pilotage_runs WHERE status NOT IN (${TERMINAL_RUN_STATUSES.map(() => '?').join(', ')})`,
          TERMINAL_RUN_STATUSES,
        );
        return { position, streamIds: rows.map((row) => row.stream_id) };
      },
    });
    const started = engine;
    this.leadership = new EngineLeadership(
      db,
      async () => {
        await started.start();
      },
      async () => {
        logger.warn('lost the engine lock; another replica drives the runs now');
        await started.stop();
      },
      (error) => logger.error({ err: error }, 'engine leadership check failed'),
    );
    this.leadership.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.leadership?.stop();
    await this.engine?.stop();
    this.masks?.close();
    await this.logs.drained();
    this.logs.close();
  }
}
