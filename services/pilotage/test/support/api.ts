import { eventually } from '../../../../test/support/infra';

export interface Answer<T = any> {
  status: number;
  body: T;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
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
