import { eventually } from '../../../../test/support/infra';

export interface Answer<T = any> {
  status: number;
  body: T;
}

const tokens = new Map<string, string>();

/** Calls to `base` through `call` carry this access token from now on. */
export function useToken(base: string, token: string): void {
  tokens.set(base, token);
}

/** A call with the token registered for `base` (none when none is). */
export function call<T = any>(base: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer<T>> {
  return callAs(tokens.get(base), base, method, path, body, contentType);
}

/** A call as the owner of `token` (undefined: no Authorization header at all). */
export async function callAs<T = any>(
  token: string | undefined,
  base: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer<T> & { headers: Headers }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': contentType };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

const FINAL = ['succeeded', 'failed', 'stopped', 'timed_out'];

/** Waits until the run has a final status, and returns it. */
export async function finishedRun(base: string, runId: string, timeoutMs = 60_000) {
  return eventually(async () => {
    const { body } = await call(base, 'GET', `/api/v1/runs/${runId}`);
    return FINAL.includes(body?.status) && body;
  }, timeoutMs, `run ${runId} to finish`);
}

export async function runStatus(base: string, runId: string, predicate: (run: any) => boolean, what: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const { body } = await call(base, 'GET', `/api/v1/runs/${runId}`);
    return predicate(body) && body;
  }, timeoutMs, what);
}

export function action(run: any, stage: string, name: string) {
  return run.stages.find((candidate: any) => candidate.name === stage).actions.find((candidate: any) => candidate.name === name);
}

/** A workflow document with the given stages in project default/admin. */
export function workflow(name: string, stages: unknown[], spec: Record<string, unknown> = {}) {
  return { apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name, project: 'default/admin' }, spec: { ...spec, stages } };
}

export const BUSYBOX = 'localhost/co-busybox:1';

export function sh(name: string, script: string, extra: Record<string, unknown> = {}) {
  return { name, image: BUSYBOX, command: ['sh', '-c', script], ...extra };
}

/**
 * A task's log page (logarithm's shape) once `ready(lines)` holds: logarithm stores lines a
 * moment after pilotage publishes them, so a log read right after a run ended may lag.
 */
export async function taskLog(base: string, runId: string, task: string, ready: (lines: any[]) => boolean, query = '', timeoutMs = 20_000) {
  return eventually(async () => {
    const answer = await call(base, 'GET', `/api/v1/runs/${runId}/tasks/${task}/logs${query}`);
    return answer.status === 200 && ready(answer.body.lines) && answer.body;
  }, timeoutMs, `the log of ${task} in run ${runId}`);
}

export const texts = (lines: any[]): string[] => lines.map((line) => line.text);
