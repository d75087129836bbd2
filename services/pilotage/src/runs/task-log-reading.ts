import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, NotFoundError, UnavailableError } from '@co/common';
import { findTask } from './run-state';
import type { RunsService } from './runs.service';

/** One line as logarithm answers it. */
export interface LogLineView {
  seq: string;
  ts: string;
  time: string;
  labels: Record<string, string>;
  text: string;
  truncated?: true;
}

/** A page of a task's log, in logarithm's shape. */
export interface TaskLogPage {
  lines: LogLineView[];
  /** Pass as `cursor` to read on; absent at the end. */
  next?: string;
}

/**
 * Query parameters passed on to logarithm, by their name there: `after` is this endpoint's
 * older name for `cursor`, and `attempt` a filter on the line label of that name.
 */
export const FORWARDED_LOG_QUERY = {
  cursor: 'cursor',
  limit: 'limit',
  direction: 'direction',
  since: 'since',
  until: 'until',
  contains: 'contains',
  regex: 'regex',
  stream: 'stream',
  source: 'source',
  attempt: 'label.attempt',
} as const;

/** How long a log read waits for logarithm before answering 503. */
export const LOGARITHM_READ_TIMEOUT_MS = 15_000;

/** What the caller sent that logarithm needs too: it decides access itself, and the read joins the caller's trace. */
export interface ForwardedHeaders {
  authorization?: string;
  traceparent?: string;
  tracestate?: string;
}

/**
 * Reads a task's log from logarithm, which keeps task logs (pilotage keeps none): a
 * forward of `GET /api/v1/runs/{run}/tasks/{task}/logs` with the caller's credentials
 * and trace. Pilotage answers itself rather than redirect: a redirect to another origin
 * drops the Authorization header in browsers and fetch clients, and gRPC cannot follow
 * one. 404 `RUN.NOT_FOUND` / `TASK.NOT_FOUND` unless the run has the task; a run
 * logarithm has no line of yet has an empty log.
 */
export async function readTaskLogs(
  runs: RunsService,
  logarithmUrl: string,
  runId: string,
  task: string,
  query: Record<string, string | undefined>,
  headers: ForwardedHeaders,
): Promise<TaskLogPage> {
  const run = await runs.load(runId);
  const [stage, action] = task.split('.');
  if (!findTask(run, stage, action ?? '')) {
    throw new NotFoundError('TASK.NOT_FOUND', `Run ${runId} has no task ${task}; tasks are named <stage>.<action>.`);
  }
  const search = new URLSearchParams();
  const given: Record<string, string | undefined> = { ...query, cursor: query.cursor ?? query.after };
  for (const [name, forwardedAs] of Object.entries(FORWARDED_LOG_QUERY)) {
    const value = given[name];
    if (value !== undefined && value !== '') search.set(forwardedAs, value);
  }
  const url = `${logarithmUrl}/api/v1/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(task)}/logs${search.size ? `?${search}` : ''}`;
  const forwarded: Record<string, string> = { accept: 'application/json' };
  for (const [name, value] of Object.entries(headers)) if (value) forwarded[name] = value;
  let response: Response;
  try {
    response = await fetch(url, { headers: forwarded, signal: AbortSignal.timeout(LOGARITHM_READ_TIMEOUT_MS) });
  } catch (error) {
    throw logsUnavailable(logarithmUrl, (error as Error).name === 'TimeoutError' ? 'timed out' : 'could not be reached');
  }
  const body = (await response.json().catch(() => undefined)) as
    | (TaskLogPage & { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
    | undefined;
  if (response.ok && body && Array.isArray(body.lines)) return { lines: body.lines, ...(body.next ? { next: body.next } : {}) };
  const code = body?.error?.code;
  if (response.status === 404 && code === 'LOGS.RUN_NOT_FOUND') return { lines: [] };
  if (response.status >= 400 && response.status < 500 && code) {
    throw new DomainError(code, body?.error?.message ?? 'The log service refused the read.', response.status, GRPC_OF_HTTP[response.status] ?? GrpcStatus.FAILED_PRECONDITION, body?.error?.details);
  }
  throw logsUnavailable(logarithmUrl, `answered ${response.status}`);
}

function logsUnavailable(url: string, what: string): UnavailableError {
  return new UnavailableError(
    'LOGS.UNAVAILABLE',
    `The log service (logarithm at ${url}) ${what}, so task logs cannot be read now; retry in a moment, or ask an administrator to check logarithm and CO_PILOTAGE_LOGARITHM_URL.`,
  );
}

const GRPC_OF_HTTP: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
};
