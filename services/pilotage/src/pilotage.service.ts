import { loadCrewAccessSettings } from '@co/auth';
import type { ServiceDefinition } from '@co/service-kit';
import { loadEngineSettings } from './engine/engine-settings';
import { ProtocolEventsPublisher } from './engine/protocol-events';
import { CreatePilotage1763800000000 } from './migrations/1763800000000-create-pilotage';
import { RunSecretsLogsToLogarithm1764310000000 } from './migrations/1764310000000-run-secrets-logs-to-logarithm';
import { PilotageModule } from './pilotage.module';
import { RunsProjection } from './runs/runs.projection';
import { WorkflowsProjection } from './workflows/workflows.projection';

export const pilotageService: ServiceDefinition = {
  name: 'pilotage',
  title: 'ContainerOps pilotage',
  description: 'ContainerOps pilotage: orchestration engine: workflows, runs, triggers and runtimes.',
  module: PilotageModule,
  checkConfig: (env) => {
    loadEngineSettings(env);
    loadCrewAccessSettings(env);
  },
  migrations: [CreatePilotage1763800000000, RunSecretsLogsToLogarithm1764310000000],
  grpc: { packages: ['containerops.pilotage.v1'], protoFiles: ['containerops/pilotage/v1/pilotage.proto'] },
  projections: ({ bus, subjectPrefix }) => [
    new WorkflowsProjection(),
    new RunsProjection(),
    ...(bus ? [new ProtocolEventsPublisher(bus, subjectPrefix)] : []),
  ],
};
