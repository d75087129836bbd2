import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { eventually } from '../../../test/support/infra';
import { grpcHealthCheck, REPO_ROOT } from '../../../test/support/processes';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

/** containerops.pilotage.v1 over the wire, with a plain grpc-js client as any other language would call it. */

const HELLO = `apiVersion: containerops.io/v1
kind: Workflow
metadata:
  name: grpc-hello
  project: default/admin
spec:
  stages:
    - name: greet
      actions:
        - name: say
          image: localhost/co-busybox:1
          pullPolicy: IfNotPresent
          command: ["sh", "-c", "echo '[COUT] word = hi'"]
          outputs: [word]
`;

const FINAL = ['succeeded', 'failed', 'stopped', 'timed_out'];

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;
type Client = grpc.Client & Record<string, Unary>;

function jsonWorkflow(name: string, script: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'containerops.io/v1',
    kind: 'Workflow',
    metadata: { name, project: 'default/admin' },
    spec: {
      ...spec,
      stages: [{ name: 'only', actions: [{ name: 'work', image: 'localhost/co-busybox:1', pullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }] }],
    },
  });
}

jest.setTimeout(120_000);

describe('pilotage over gRPC (containerops.pilotage.v1)', () => {
  let pilotage: TestPilotage;
  let workflows: Client;
  let runs: Client;

  beforeAll(async () => {
    await ensureBusyboxImage();
    pilotage = await startPilotage({}, 'distributed', {}, undefined, { logarithm: true });
    const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/containerops/pilotage/v1/pilotage.proto'), {
      keepCase: false,
      defaults: true,
      oneofs: false,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const v1 = loaded.containerops.pilotage.v1;
    workflows = new v1.WorkflowService(pilotage.service.grpcAddress, grpc.credentials.createInsecure());
    runs = new v1.RunService(pilotage.service.grpcAddress, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    workflows?.close();
    runs?.close();
    await pilotage?.close();
  });

  /** Call metadata with pilot's access token. */
  function signedIn(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${pilotage.crew.pilot.token}`);
    return metadata;
  }

  function invoke<T = any>(client: Client, method: string, request: object, metadata = signedIn()): Promise<T> {
    return new Promise((resolve, reject) => client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
  }

  /** The call's failure: gRPC status code and the `error-code` trailer. */
  async function failure(call: Promise<unknown>): Promise<{ code: number; errorCode: unknown; details: string; errorDetails?: any }> {
    try {
      await call;
    } catch (error) {
      const serviceError = error as grpc.ServiceError;
      const extra = serviceError.metadata?.get('error-details')[0];
      return {
        code: serviceError.code,
        errorCode: serviceError.metadata?.get('error-code')[0],
        details: serviceError.details,
        errorDetails: extra ? JSON.parse(String(extra)) : undefined,
      };
    }
    throw new Error('the call succeeded');
  }

  async function finished(runId: string, timeoutMs = 60_000) {
    return eventually(async () => {
      const run = await invoke(runs, 'getRun', { id: runId });
      return FINAL.includes(run.status) && run;
    }, timeoutMs, `run ${runId} to finish`);
  }

  async function create(document: string, format = 'json') {
    const { workflow } = await invoke(workflows, 'createWorkflow', { document, format });
    return workflow as { id: string; name: string; active: boolean; revision: number };
  }

  it('answers the health check for containerops.pilotage.v1', async () => {
    expect(await grpcHealthCheck(pilotage.service.grpcAddress, 'containerops.pilotage.v1')).toBe('SERVING');
  });

  it('creates a workflow from YAML and runs it; the run joins the caller trace and has outputs, events and logs', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const metadata = signedIn();
    metadata.set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
    const created = await invoke(workflows, 'createWorkflow', { document: HELLO, format: 'yaml', run: true }, metadata);
    expect(created.workflow).toMatchObject({ name: 'grpc-hello', project: 'default/admin', revision: 1, active: true });
    expect(JSON.parse(created.workflow.definitionJson)).toMatchObject({ kind: 'Workflow', metadata: { name: 'grpc-hello' } });
    expect(created.run).toMatchObject({ workflowId: created.workflow.id, number: 1, status: 'queued' });

    const run = await finished(created.run.id);
    if (run.status !== 'succeeded') console.log(JSON.stringify(run, null, 1));
    expect(run).toMatchObject({ id: created.run.id, status: 'succeeded', workflowName: 'grpc-hello', number: 1, trigger: { type: 'manual' } });
    expect(run.traceId).toBe(traceId);
    expect(run.stages).toHaveLength(1);
    expect(run.stages[0]).toMatchObject({ name: 'greet', status: 'succeeded' });
    expect(run.stages[0].actions[0]).toMatchObject({ name: 'say', status: 'succeeded', attempts: 1, exitCode: 0, outputs: { word: 'hi' } });

    const fetched = await invoke(workflows, 'getWorkflow', { id: created.workflow.id });
    expect(fetched).toMatchObject({ id: created.workflow.id, name: 'grpc-hello', revision: 1 });

    const listed = await invoke(runs, 'listRuns', { workflowId: created.workflow.id });
    expect(listed).toMatchObject({ page: 1, pageSize: 50, hasMore: false });
    expect(listed.items).toEqual([expect.objectContaining({ id: run.id, number: 1, status: 'succeeded' })]);

    const events = (await invoke(runs, 'listRunEvents', { id: run.id })).items;
    expect(events[0]).toMatchObject({ version: 1, type: 'RunRequested' });
    const requested = JSON.parse(events[0].dataJson);
    expect(requested).toMatchObject({ runId: run.id, traceId });
    expect(requested.snapshot).toBeUndefined();
    expect(events[events.length - 1].type).toBe('RunSucceeded');

    // Read from logarithm, which stores them a moment after the run publishes them.
    const logs = await eventually(async () => {
      const page = await invoke(runs, 'getTaskLogs', { runId: run.id, task: 'greet.say' });
      return page.lines.some((line: { text: string }) => line.text === 'container exited with code 0') && page;
    }, 20_000, 'the task log in logarithm');
    const texts = logs.lines.map((line: { text: string }) => line.text);
    expect(texts).toContain('[COUT] word = hi');
    const cout = logs.lines.find((line: { text: string }) => line.text === '[COUT] word = hi');
    expect(cout).toMatchObject({ attempt: 1, source: 'container', stream: 'stdout', seq: expect.stringMatching(/^\d+$/), labels: expect.objectContaining({ run: run.id, task: 'greet.say' }) });
    expect(run.logLinks.logStream).toBe(`${pilotage.logarithm!.httpUrl}/api/v1/runs/${run.id}/logs/stream`);
    expect(run.stages[0].actions[0].logLinks.log).toBe(`${pilotage.logarithm!.httpUrl}/api/v1/runs/${run.id}/tasks/greet.say/logs`);
    expect(logs.next).toBeUndefined(); // proto3 optional: absent at the end
    const firstLine = await invoke(runs, 'getTaskLogs', { runId: run.id, task: 'greet.say', attempt: 1, limit: 1 });
    expect(firstLine.lines).toHaveLength(1);
    expect(firstLine.next).toEqual(expect.any(String));
    const rest = await invoke(runs, 'getTaskLogs', { runId: run.id, task: 'greet.say', after: firstLine.next });
    expect(rest.lines.map((line: { text: string }) => line.text)).toEqual(texts.slice(1));

    expect(await failure(invoke(runs, 'getTaskLogs', { runId: run.id, task: 'greet.nothing' }))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      errorCode: 'TASK.NOT_FOUND',
    });
    expect(await failure(invoke(runs, 'getTaskLogs', { runId: run.id, task: 'greet.say', limit: 6000 }))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'REQUEST.INVALID',
    });

    const again = await invoke(runs, 'rerunRun', { id: run.id });
    expect(again).toMatchObject({ workflowId: created.workflow.id, number: 2, status: 'queued' });
    expect((await finished(again.id)).trigger).toMatchObject({ type: 'rerun', rerunOf: run.id });
  });

  it('refuses an invalid document with INVALID_ARGUMENT and error-code WORKFLOW.INVALID', async () => {
    const answer = await failure(invoke(workflows, 'createWorkflow', { document: 'apiVersion: containerops.io/v1\nkind: Workflow\nmetadata:\n  name: Bad Name\n', format: 'yaml' }));
    expect(answer).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'WORKFLOW.INVALID' });
    expect(answer.details).toMatch(/^The workflow has \d+ problems?: /);
    expect(answer.errorDetails.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: '$.metadata.name' })]));

    expect(await failure(invoke(workflows, 'createWorkflow', { document: HELLO, format: 'toml' }))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'REQUEST.INVALID',
    });
  });

  it('answers NOT_FOUND with WORKFLOW.NOT_FOUND / RUN.NOT_FOUND for unknown ids', async () => {
    expect(await failure(invoke(workflows, 'getWorkflow', { id: '6f1c1a38-0d7e-4f57-9a65-4c0a3a0e7f11' }))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      errorCode: 'WORKFLOW.NOT_FOUND',
    });
    expect(await failure(invoke(workflows, 'getWorkflow', { id: 'nope' }))).toMatchObject({ code: grpc.status.NOT_FOUND, errorCode: 'WORKFLOW.NOT_FOUND' });
    expect(await failure(invoke(runs, 'getRun', { id: '6f1c1a38-0d7e-4f57-9a65-4c0a3a0e7f11' }))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      errorCode: 'RUN.NOT_FOUND',
    });
  });

  it('refuses to start a run of a deactivated workflow (FAILED_PRECONDITION, WORKFLOW.INACTIVE) until it is activated again', async () => {
    const workflow = await create(jsonWorkflow('grpc-switch', 'true'));
    expect(await invoke(workflows, 'deactivateWorkflow', { id: workflow.id })).toMatchObject({ id: workflow.id, active: false });
    const refused = await failure(invoke(runs, 'startRun', { workflowId: workflow.id }));
    expect(refused).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, errorCode: 'WORKFLOW.INACTIVE' });
    expect(await invoke(workflows, 'activateWorkflow', { id: workflow.id })).toMatchObject({ active: true });
    const run = await invoke(runs, 'startRun', { workflowId: workflow.id });
    expect(run).toMatchObject({ workflowId: workflow.id, number: 1, status: 'queued' });
    expect((await finished(run.id)).status).toBe('succeeded');
  });

  it('keeps the type of run parameters and refuses undeclared ones', async () => {
    const workflow = await create(jsonWorkflow('grpc-params', 'echo "$CO_DATA"', { params: { who: 'nobody', count: 1, loud: false } }));
    const run = await invoke(runs, 'startRun', {
      workflowId: workflow.id,
      params: { who: { stringValue: '3' }, count: { numberValue: 3 }, loud: { boolValue: true } },
    });
    const state = await invoke(runs, 'getRun', { id: run.id });
    expect(state.params).toEqual({ who: { stringValue: '3' }, count: { numberValue: 3 }, loud: { boolValue: true } });

    const refused = await failure(invoke(runs, 'startRun', { workflowId: workflow.id, params: { other: { stringValue: 'x' } } }));
    expect(refused).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'RUN.INVALID_PARAMS' });
    const empty = await failure(invoke(runs, 'startRun', { workflowId: workflow.id, params: { who: {} } }));
    expect(empty).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'RUN.INVALID_PARAMS' });
    await finished(run.id);
  });

  it('takes run secrets in StartRun and RerunRun, refusing missing ones, and masks them in the task log', async () => {
    const workflow = await create(
      jsonWorkflow('grpc-secrets', 'echo "key=$KEY"', { secrets: [{ name: 'KEY', required: true }] }).replace(
        '"command"',
        '"env":{"KEY":"${{ secrets.KEY }}"},"command"',
      ),
    );
    const refused = await failure(invoke(runs, 'startRun', { workflowId: workflow.id }));
    expect(refused).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'RUN.INVALID_SECRETS' });
    const run = await invoke(runs, 'startRun', { workflowId: workflow.id, secrets: { KEY: 'grpc-secret-value' } });
    expect((await finished(run.id)).status).toBe('succeeded');
    const logs = await eventually(async () => {
      const page = await invoke(runs, 'getTaskLogs', { runId: run.id, task: 'only.work' });
      return page.lines.some((line: { text: string }) => line.text.startsWith('key=')) && page;
    }, 20_000, 'the task log in logarithm');
    expect(logs.lines.map((line: { text: string }) => line.text)).toContain('key=***');
    expect(await failure(invoke(runs, 'rerunRun', { id: run.id }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'RUN.INVALID_SECRETS' });
    const again = await invoke(runs, 'rerunRun', { id: run.id, secrets: { KEY: 'grpc-secret-value' } });
    expect((await finished(again.id)).status).toBe('succeeded');
  });

  it('stops a run, and deletes a workflow with an active run only with force', async () => {
    const workflow = await create(jsonWorkflow('grpc-sleepy', 'sleep 60'));
    const first = await invoke(runs, 'startRun', { workflowId: workflow.id });
    await eventually(async () => (await invoke(runs, 'getRun', { id: first.id })).stages[0].actions[0].status === 'running', 30_000, 'the task to run');
    const stopping = await invoke(runs, 'stopRun', { id: first.id });
    expect(stopping.id).toBe(first.id);
    const stopped = await finished(first.id);
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'stopped by pilot' });
    expect((await invoke(runs, 'stopRun', { id: first.id })).status).toBe('stopped');

    const second = await invoke(runs, 'startRun', { workflowId: workflow.id });
    const refused = await failure(invoke(workflows, 'deleteWorkflow', { id: workflow.id }));
    expect(refused).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, errorCode: 'WORKFLOW.RUN_ACTIVE' });
    expect(await invoke(workflows, 'deleteWorkflow', { id: workflow.id, force: true })).toEqual({});
    expect(await failure(invoke(workflows, 'getWorkflow', { id: workflow.id }))).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((await finished(second.id)).status).toBe('stopped');
  });

  it('lists, updates, copies workflows and lists revisions; serves the schema', async () => {
    const workflow = await create(jsonWorkflow('grpc-listed', 'true'));
    const document = JSON.parse(jsonWorkflow('grpc-listed', 'echo two'));
    const updated = await invoke(workflows, 'updateWorkflow', { id: workflow.id, document: JSON.stringify(document), format: 'json' });
    expect(updated).toMatchObject({ id: workflow.id, revision: 2 });
    expect(JSON.parse(updated.definitionJson).spec.stages[0].actions[0].command).toEqual(['sh', '-c', 'echo two']);
    const renamed = { ...document, metadata: { ...document.metadata, name: 'grpc-other' } };
    expect(await failure(invoke(workflows, 'updateWorkflow', { id: workflow.id, document: JSON.stringify(renamed), format: 'json' }))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'WORKFLOW.IDENTITY_CHANGED',
    });

    const revisions = (await invoke(workflows, 'listRevisions', { id: workflow.id })).items;
    expect(revisions.map((revision: { revision: number }) => revision.revision)).toEqual([1, 2]);
    expect(JSON.parse(revisions[0].definitionJson).metadata.name).toBe('grpc-listed');

    const copy = await invoke(workflows, 'copyWorkflow', { id: workflow.id, name: 'grpc-listed-copy' });
    expect(copy).toMatchObject({ name: 'grpc-listed-copy', project: 'default/admin', revision: 1, copiedFrom: workflow.id });
    expect(await failure(invoke(workflows, 'copyWorkflow', { id: workflow.id, name: 'Not A Name' }))).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'REQUEST.INVALID',
    });
    expect(await failure(invoke(workflows, 'copyWorkflow', { id: workflow.id, name: 'grpc-listed-copy' }))).toMatchObject({
      code: grpc.status.ABORTED,
      errorCode: 'WORKFLOW.NAME_TAKEN',
    });

    const listed = await invoke(workflows, 'listWorkflows', { project: 'default/admin', name: 'grpc-listed', pageSize: 1 });
    expect(listed).toMatchObject({ page: 1, pageSize: 1, total: 2 });
    expect(listed.items).toEqual([expect.objectContaining({ id: workflow.id, name: 'grpc-listed', revision: 2, active: true })]);
    expect(listed.items[0].definitionJson).toBeUndefined();
    const second = await invoke(workflows, 'listWorkflows', { name: 'grpc-listed', page: 2, pageSize: 1 });
    expect(second.items.map((item: { name: string }) => item.name)).toEqual(['grpc-listed-copy']);
    expect(await failure(invoke(workflows, 'listWorkflows', { pageSize: 500 }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'REQUEST.INVALID' });

    const schema = JSON.parse((await invoke(workflows, 'getWorkflowSchema', {})).json);
    expect(schema.$id).toBe('https://containerops.io/schemas/workflow/v1');
  });
});
