import type { pilotage } from '@co/proto';
import type { TaskLogPage } from './task-log-reading';
import type { ParamValue } from '../workflows/workflow-definition';
import { rejectInvalid } from '../workflows/workflow-grpc.mapping';
import type { RunTrigger } from './run.events';
import type { RunsService, RunView } from './runs.service';

/**
 * Between containerops.pilotage.v1 run messages and RunsService. Requests are checked
 * as the REST DTOs check them; in requests 0 and "" mean "not given".
 */

type RunListPage = Awaited<ReturnType<RunsService['list']>>;
type RunEventView = Awaited<ReturnType<RunsService['events']>>[number];

/**
 * `params` of StartRun: each ParamValue gives its value's type. A value with no kind
 * set becomes `undefined`, which RunsService refuses (`RUN.INVALID_PARAMS`) as it
 * refuses a JSON null over REST.
 */
export function paramsOf(params: Record<string, pilotage.ParamValue> | undefined): Record<string, unknown> | undefined {
  const entries = Object.entries(params ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([name, value]) => [name, fromParamValue(value)]));
}

function fromParamValue(value: pilotage.ParamValue | undefined): ParamValue | undefined {
  if (value?.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value?.numberValue !== undefined && value.numberValue !== null) return value.numberValue;
  if (value?.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  return undefined;
}

export function toParamValue(value: ParamValue): pilotage.ParamValue {
  switch (typeof value) {
    case 'number':
      return { numberValue: value };
    case 'boolean':
      return { boolValue: value };
    default:
      return { stringValue: String(value) };
  }
}

export function pageOf(page: number): number | undefined {
  rejectInvalid(!Number.isInteger(page) || page < 0 ? ['page must be a positive integer'] : []);
  return page || undefined;
}

/** GetTaskLogs' request as the query logarithm is asked with. */
export function taskLogQueryOf(request: pilotage.GetTaskLogsRequest): Record<string, string | undefined> {
  const problems: string[] = [];
  if (!Number.isInteger(request.attempt) || request.attempt < 0) problems.push('attempt must be a positive integer');
  if (!Number.isInteger(request.limit) || request.limit < 0 || request.limit > 5000) problems.push('limit must be an integer between 1 and 5000');
  rejectInvalid(problems);
  return {
    attempt: request.attempt ? String(request.attempt) : undefined,
    cursor: request.after || undefined,
    limit: request.limit ? String(request.limit) : undefined,
  };
}

/** `secrets` of StartRun and RerunRun: an empty map means none given. */
export function secretsOf(secrets: Record<string, string> | undefined): Record<string, string> | undefined {
  return secrets && Object.keys(secrets).length > 0 ? secrets : undefined;
}

export function toRunTrigger(trigger: RunTrigger): pilotage.RunTrigger {
  return { type: trigger.type, by: trigger.by, rerunOf: trigger.rerunOf };
}

/** A RunView; of its links only logarithm's (gRPC callers read a task's log with GetTaskLogs). */
export function toRunMessage(view: RunView): pilotage.Run {
  return {
    id: view.id,
    workflowId: view.workflowId,
    workflowName: view.workflowName,
    project: view.project,
    revision: view.revision,
    number: view.number,
    status: view.status,
    trigger: toRunTrigger(view.trigger),
    params: Object.fromEntries(Object.entries(view.params ?? {}).map(([name, value]) => [name, toParamValue(value)])),
    requestedAt: view.requestedAt,
    startedAt: view.startedAt,
    finishedAt: view.finishedAt,
    reason: view.reason,
    traceId: view.traceId,
    stopRequestedAt: view.stopRequestedAt,
    logLinks: { log: view.links.log, logStream: view.links.logStream, logDownload: view.links.logDownload },
    stages: view.stages.map((stage) => ({
      name: stage.name,
      status: stage.status,
      startedAt: stage.startedAt,
      finishedAt: stage.finishedAt,
      reason: stage.reason,
      actions: stage.actions.map((action) => ({
        name: action.name,
        status: action.status,
        attempts: action.attempts,
        exitCode: action.exitCode,
        outputs: action.outputs ?? {},
        startedAt: action.startedAt,
        finishedAt: action.finishedAt,
        reason: action.reason,
        logLinks: action.links,
      })),
    })),
  };
}

export function toListRunsResponse(page: RunListPage): pilotage.ListRunsResponse {
  return {
    items: page.items.map((item) => ({
      id: item.id,
      number: item.number,
      status: item.status,
      trigger: toRunTrigger(item.trigger),
      requestedAt: item.requestedAt,
      startedAt: item.startedAt,
      finishedAt: item.finishedAt,
      reason: item.reason,
    })),
    page: page.page,
    pageSize: page.pageSize,
    hasMore: page.hasMore,
  };
}

export function toRunEventMessage(event: RunEventView): pilotage.RunEvent {
  return {
    id: event.id,
    version: event.version,
    type: event.type,
    occurredAt: event.occurredAt,
    actor: event.actor,
    dataJson: JSON.stringify(event.data ?? null),
  };
}

export function toTaskLogsResponse(page: TaskLogPage): pilotage.GetTaskLogsResponse {
  return {
    lines: page.lines.map((line) => ({
      attempt: Number(line.labels.attempt ?? 0) || 0,
      source: line.labels.source ?? '',
      stream: line.labels.stream ?? '',
      time: line.time,
      text: line.text,
      seq: line.seq,
      ts: line.ts,
      labels: Object.fromEntries(Object.entries(line.labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
      truncated: line.truncated === true,
    })),
    next: page.next,
  };
}
