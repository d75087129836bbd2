import { Controller, Inject } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authorize, userIdOf } from '@co/auth';
import { pilotage } from '@co/proto';
import { callerName, callerOf } from '../grpc-caller';
import { WorkflowResolver } from '../workflows/workflow-access';
import { injectTraceHeaders } from '@co/telemetry';
import { ENGINE_SETTINGS } from '../engine/engine.tokens';
import type { EngineSettings } from '../engine/engine-settings';
import {
  pageOf,
  paramsOf,
  secretsOf,
  taskLogQueryOf,
  toListRunsResponse,
  toRunEventMessage,
  toRunMessage,
  toTaskLogsResponse,
} from './run-grpc.mapping';
import { RunResolver } from './run-access';
import { RunsService } from './runs.service';
import { readTaskLogs } from './task-log-reading';

/**
 * containerops.pilotage.v1.RunService: the REST runs API over gRPC, with the same access
 * rules (credentials in the `authorization` metadata). Runs started here
 * join the caller's trace (`traceparent` metadata, continued by GrpcTracingInterceptor).
 */
@Controller()
@pilotage.RunServiceControllerMethods()
export class RunsGrpcController implements pilotage.RunServiceController {
  constructor(
    private readonly runs: RunsService,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
  ) {}

  @Authorize('workflow:run', { resolver: WorkflowResolver, param: 'workflowId' })
  startRun(request: pilotage.StartRunRequest, metadata?: Metadata): Promise<pilotage.RunSummary> {
    return this.runs.start(request.workflowId, paramsOf(request.params), userIdOf(callerOf(metadata)), secretsOf(request.secrets));
  }

  @Authorize('workflow:view', { resolver: RunResolver })
  async getRun(request: pilotage.GetRunRequest): Promise<pilotage.Run> {
    return toRunMessage(await this.runs.get(request.id));
  }

  @Authorize('workflow:view', { resolver: WorkflowResolver, param: 'workflowId' })
  async listRuns(request: pilotage.ListRunsRequest): Promise<pilotage.ListRunsResponse> {
    return toListRunsResponse(await this.runs.list(request.workflowId, pageOf(request.page)));
  }

  @Authorize('workflow:run', { resolver: RunResolver })
  async stopRun(request: pilotage.StopRunRequest, metadata?: Metadata): Promise<pilotage.Run> {
    const principal = callerOf(metadata);
    return toRunMessage(await this.runs.stop(request.id, userIdOf(principal), callerName(principal)));
  }

  @Authorize('workflow:run', { resolver: RunResolver })
  rerunRun(request: pilotage.RerunRunRequest, metadata?: Metadata): Promise<pilotage.RunSummary> {
    return this.runs.rerun(request.id, userIdOf(callerOf(metadata)), secretsOf(request.secrets));
  }

  @Authorize('workflow:view', { resolver: RunResolver })
  async listRunEvents(request: pilotage.ListRunEventsRequest): Promise<pilotage.ListRunEventsResponse> {
    return { items: (await this.runs.events(request.id)).map(toRunEventMessage) };
  }

  @Authorize('workflow:view', { resolver: RunResolver, param: 'runId' })
  async getTaskLogs(request: pilotage.GetTaskLogsRequest, metadata?: Metadata): Promise<pilotage.GetTaskLogsResponse> {
    const authorization = metadata?.get('authorization')?.[0];
    const trace = injectTraceHeaders({});
    const page = await readTaskLogs(this.runs, this.settings.logarithmUrl, request.runId, request.task, taskLogQueryOf(request), {
      authorization: authorization === undefined ? undefined : String(authorization),
      traceparent: trace.traceparent,
      tracestate: trace.tracestate,
    });
    return toTaskLogsResponse(page);
  }
}
