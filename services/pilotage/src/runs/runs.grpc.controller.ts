import { Controller } from '@nestjs/common';
import { pilotage } from '@co/proto';
import { TaskLogStore } from '../engine/task-logs';
import {
  pageOf,
  paramsOf,
  taskLogQueryOf,
  toListRunsResponse,
  toRunEventMessage,
  toRunMessage,
  toTaskLogsResponse,
} from './run-grpc.mapping';
import { RunsService } from './runs.service';
import { readTaskLogs } from './task-log-reading';

/**
 * containerops.pilotage.v1.RunService: the REST runs API over gRPC. Runs started here
 * join the caller's trace (`traceparent` metadata, continued by GrpcTracingInterceptor).
 */
@Controller()
@pilotage.RunServiceControllerMethods()
export class RunsGrpcController implements pilotage.RunServiceController {
  constructor(
    private readonly runs: RunsService,
    private readonly logs: TaskLogStore,
  ) {}

  startRun(request: pilotage.StartRunRequest): Promise<pilotage.RunSummary> {
    return this.runs.start(request.workflowId, paramsOf(request.params));
  }

  async getRun(request: pilotage.GetRunRequest): Promise<pilotage.Run> {
    return toRunMessage(await this.runs.get(request.id));
  }

  async listRuns(request: pilotage.ListRunsRequest): Promise<pilotage.ListRunsResponse> {
    return toListRunsResponse(await this.runs.list(request.workflowId, pageOf(request.page)));
  }

  async stopRun(request: pilotage.StopRunRequest): Promise<pilotage.Run> {
    return toRunMessage(await this.runs.stop(request.id));
  }

  rerunRun(request: pilotage.RerunRunRequest): Promise<pilotage.RunSummary> {
    return this.runs.rerun(request.id);
  }

  async listRunEvents(request: pilotage.ListRunEventsRequest): Promise<pilotage.ListRunEventsResponse> {
    return { items: (await this.runs.events(request.id)).map(toRunEventMessage) };
  }

  async getTaskLogs(request: pilotage.GetTaskLogsRequest): Promise<pilotage.GetTaskLogsResponse> {
    const page = await readTaskLogs(this.runs, this.logs, request.runId, request.task, taskLogQueryOf(request));
    return toTaskLogsResponse(page);
  }
}
