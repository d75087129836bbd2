import { Module } from '@nestjs/common';
import { crewAccessControlProvider } from '@co/auth';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { EngineLifecycle } from './engine/engine.provider';
import { CONTAINER_RUNTIME, ENGINE_IDENTITY, ENGINE_SETTINGS } from './engine/engine.tokens';
import { engineIdentity, runSecretsKey } from './engine/engine-identity';
import { RunSecretStore } from './runs/run-secrets';
import { loadEngineSettings, type EngineSettings } from './engine/engine-settings';
import { TaskEventsController } from './engine/task-events.controller';
import { TaskLogStore } from './engine/task-logs';
import { TaskTokens } from './engine/task-token';
import { QuotaGate } from './quotas/quota-gate';
import { RunResolver } from './runs/run-access';
import { RunsController } from './runs/runs.controller';
import { RunsGrpcController } from './runs/runs.grpc.controller';
import { RunsService } from './runs/runs.service';
import { DockerRuntime } from './runtime/docker.runtime';
import { WorkflowAccess, WorkflowResolver } from './workflows/workflow-access';
import { WorkflowsController } from './workflows/workflows.controller';
import { WorkflowsGrpcController } from './workflows/workflows.grpc.controller';
import { WorkflowsService } from './workflows/workflows.service';

/** Pilotage: orchestration engine: workflows, runs, triggers and runtimes. */
@Module({
  controllers: [WorkflowsController, RunsController, TaskEventsController, WorkflowsGrpcController, RunsGrpcController],
  providers: [
    WorkflowsService,
    RunsService,
    WorkflowAccess,
    WorkflowResolver,
    RunResolver,
    QuotaGate,
    crewAccessControlProvider(),
    EngineLifecycle,
    {
      provide: ENGINE_SETTINGS,
      inject: [SERVICE_RUNTIME],
      useFactory: (runtime: ServiceRuntime) => {
        const settings = loadEngineSettings(process.env);
        // Podman names the host so inside containers; Docker users set the URL.
        settings.eventBaseUrl ??= `http://host.containers.internal:${runtime.config.httpPort}`;
        return settings;
      },
    },
    {
      provide: ENGINE_IDENTITY,
      inject: [SERVICE_RUNTIME],
      useFactory: (runtime: ServiceRuntime) => engineIdentity(runtime.db),
    },
    {
      provide: TaskTokens,
      inject: [ENGINE_IDENTITY],
      useFactory: (identity: { tokenSecret: Buffer }) => new TaskTokens(identity.tokenSecret),
    },
    {
      provide: CONTAINER_RUNTIME,
      inject: [ENGINE_SETTINGS],
      useFactory: (settings: EngineSettings) => new DockerRuntime({ dockerHost: settings.dockerHost, registryAuth: settings.registryAuth }),
    },
    {
      provide: TaskLogStore,
      inject: [SERVICE_RUNTIME],
      useFactory: (runtime: ServiceRuntime) =>
        new TaskLogStore(runtime.bus, runtime.config.bus.subjectPrefix, runtime.logger.child({ component: 'task-logs' })),
    },
    {
      provide: RunSecretStore,
      inject: [SERVICE_RUNTIME],
      useFactory: async (runtime: ServiceRuntime) => new RunSecretStore(runtime.db, await runSecretsKey(runtime.db)),
    },
  ],
})
export class PilotageModule {}
