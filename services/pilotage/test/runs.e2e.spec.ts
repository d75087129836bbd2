import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { NATS_URL, eventually } from '../../../test/support/infra';
import { action, call, callAs, finishedRun, runStatus, sh, taskLog, texts, workflow } from './support/api';
import { TaskTokens } from '../src/engine/task-token';
import { ensureBusyboxImage, podmanEngine } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

const HELLO_DATA = readFileSync(path.join(__dirname, 'fixtures/hello-data.yaml'), 'utf8');

jest.setTimeout(120_000);

describe('runs on Podman', () => {
  let pilotage: TestPilotage;
  let base: string;
  let nats: NatsConnection;

  beforeAll(async () => {
    await ensureBusyboxImage();
    pilotage = await startPilotage({}, 'distributed', {}, undefined, { logarithm: true });
    base = pilotage.url;
    nats = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nats?.close();
    await pilotage?.close();
  });

  it('fails tasks with the reason when the container engine cannot be reached', async () => {
    const isolated = await startPilotage({}, 'distributed', { DOCKER_HOST: 'unix:///run/co-nothing-here.sock' }, pilotage.crew);
    try {
      const created = await call(isolated.url, 'POST', '/api/v1/workflows?run=true', workflow('no-engine', [{ name: 'only', actions: [sh('any', 'true')] }]));
      const run = await finishedRun(isolated.url, created.body.run.id);
      expect(run.status).toBe('failed');
      expect(action(run, 'only', 'any').reason).toMatch(/^cannot reach the container engine at unix:\/\/\/run\/co-nothing-here\.sock/);
    } finally {
      await isolated.close();
    }
  });

  async function create(document: unknown) {
    const created = await call(base, 'POST', '/api/v1/workflows', document);
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  async function runOf(workflowId: string, params?: Record<string, unknown>) {
    const started = await call(base, 'POST', `/api/v1/workflows/${workflowId}/runs`, params ? { params } : {});
    expect(started.status).toBe(201);
    return started.body as { id: string; number: number; status: string };
  }

  function collect(subscription: Subscription): any[] {
    const seen: any[] = [];
    void (async () => {
      for await (const message of subscription) seen.push({ subject: message.subject, data: message.json(), headers: message.headers });
    })();
    return seen;
  }

  it('runs the hello-data example as written: parallel producers, data links, outputs, logs and protocol events', async () => {
    const protocol = collect(nats.subscribe(`${pilotage.prefix}.pilotage.protocol.>`));
    const logs = collect(nats.subscribe(`${pilotage.prefix}.pilotage.tasklog.>`));
    const created = await call(base, 'POST', '/api/v1/workflows?run=true', HELLO_DATA, 'application/yaml');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'hello-data', project: 'default/admin', revision: 1, run: { number: 1, status: 'queued' } });

    const run = await finishedRun(base, created.body.run.id);
    if (run.status !== 'succeeded') console.log(JSON.stringify(run, null, 1));
    expect(run).toMatchObject({ status: 'succeeded', number: 1, workflowId: created.body.id });
    expect(run.stages.map((stage: any) => [stage.name, stage.status])).toEqual([
      ['produce', 'succeeded'],
      ['consume', 'succeeded'],
    ]);
    expect(action(run, 'produce', 'left')).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 1, outputs: { word: 'hello' } });
    expect(action(run, 'produce', 'right').outputs).toEqual({ word: 'world' });
    expect(action(run, 'consume', 'join').outputs).toEqual({ joined: 'hello-world' });

    // Read from logarithm, through pilotage.
    const joinLog = await taskLog(base, run.id, 'consume.join', (lines) => texts(lines).includes('container exited with code 0'));
    expect(texts(joinLog.lines)).toEqual(expect.arrayContaining(['[COUT] joined = hello-world', 'container started']));
    expect(joinLog.lines.every((line: any) => !Number.isNaN(Date.parse(line.time)))).toBe(true);
    expect(joinLog.lines.find((line: any) => line.text === '[COUT] joined = hello-world').labels).toMatchObject({
      org: 'default',
      project: 'admin',
      run: run.id,
      task: 'consume.join',
      attempt: '1',
      stream: 'stdout',
      source: 'container',
    });
    const logarithm = pilotage.logarithm!.httpUrl;
    expect(run.links).toMatchObject({
      logs: `/api/v1/runs/${run.id}/tasks/{task}/logs`,
      log: `${logarithm}/api/v1/runs/${run.id}/logs`,
      logStream: `${logarithm}/api/v1/runs/${run.id}/logs/stream`,
      logDownload: `${logarithm}/api/v1/runs/${run.id}/logs/download`,
    });
    expect(action(run, 'consume', 'join').links).toEqual({
      log: `${logarithm}/api/v1/runs/${run.id}/tasks/consume.join/logs`,
      logStream: `${logarithm}/api/v1/runs/${run.id}/tasks/consume.join/logs/stream`,
      logDownload: `${logarithm}/api/v1/runs/${run.id}/tasks/consume.join/logs/download`,
    });
    const followed = await callAs(pilotage.crew.pilot.token, logarithm, 'GET', `/api/v1/runs/${run.id}/logs`);
    expect(followed.status).toBe(200);
    expect(texts(followed.body.lines)).toEqual(expect.arrayContaining(['[COUT] word = hello', '[COUT] word = world', '[COUT] joined = hello-world']));

    await eventually(async () => protocol.filter((message) => message.data.RUN_ID === run.id).length >= 12, 10_000, 'protocol events');
    const mine = protocol.filter((message) => message.data.RUN_ID === run.id);
    for (const name of ['CO_COMPONENT_START', 'CO_TASK_START', 'CO_TASK_RESULT', 'CO_COMPONENT_STOP']) {
      expect(mine.filter((message) => message.data.EVENT === name).length).toBe(3);
    }
    const result = mine.find((message) => message.data.EVENT === 'CO_TASK_RESULT' && message.data.TASK_ID === 'consume.join');
    expect(result.data.INFO).toEqual({ result: true, output: { joined: 'hello-world' } });
    expect(result.headers.get('Co-Tenant')).toBe('default');
    expect(result.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    await eventually(async () => logs.some((message) => message.data.runId === run.id && message.data.lines.some((line: any) => line.text === '[COUT] word = hello')), 10_000, 'task log lines on NATS');

    const events = await call(base, 'GET', `/api/v1/runs/${run.id}/events`);
    const types = events.body.map((event: any) => event.type);
    expect(types[0]).toBe('RunRequested');
    expect(types).toEqual(expect.arrayContaining(['RunStarted', 'StageStarted', 'TaskQueued', 'TaskStarted', 'TaskResultRecorded', 'TaskFinished', 'StageFinished']));
    expect(types[types.length - 1]).toBe('RunSucceeded');

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/co_pilotage_tasks_finished_total\{outcome="succeeded",service="pilotage"\} [3-9]/);
    expect(metrics).toMatch(/co_pilotage_runs_finished_total\{status="succeeded",service="pilotage"\} [1-9]/);
  });

  it('fails a run when an action fails: running siblings are stopped, later stages skipped, the reason names the action', async () => {
    const id = await create(
      workflow('failing', [
        { name: 'work', sequencing: 'parallel', actions: [sh('broken', 'echo oops >&2; exit 3'), sh('slow', 'sleep 60')] },
        { name: 'after', actions: [sh('never', 'echo never')] },
      ]),
    );
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('failed');
    expect(run.reason).toBe('action work.broken failed: exit code 3');
    expect(action(run, 'work', 'broken')).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(action(run, 'work', 'slow')).toMatchObject({ status: 'stopped', reason: 'stopped because work.broken failed' });
    expect(run.stages[1]).toMatchObject({ name: 'after', status: 'skipped' });
    expect(action(run, 'after', 'never').status).toBe('skipped');
    const log = await taskLog(base, run.id, 'work.broken', (lines) => texts(lines).includes('oops'));
    expect(log.lines).toEqual(expect.arrayContaining([expect.objectContaining({ labels: expect.objectContaining({ stream: 'stderr' }), text: 'oops' })]));
  });

  it('skips the actions after a failed one in a sequential stage', async () => {
    const id = await create(workflow('sequence-failure', [{ name: 'steps', actions: [sh('first', 'exit 1'), sh('second', 'true')] }]));
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('failed');
    expect(action(run, 'steps', 'second')).toMatchObject({ status: 'skipped', attempts: 0 });
  });

  it('treats [COUT] CO_RESULT = false as failure even with exit code 0', async () => {
    const id = await create(workflow('result-false', [{ name: 'only', actions: [sh('check', "echo '[COUT] CO_RESULT = false'")] }]));
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('failed');
    expect(action(run, 'only', 'check')).toMatchObject({ status: 'failed', exitCode: 0, reason: 'the component reported CO_RESULT = false' });
  });

  it('times out an action: the container is stopped and the run is timed_out naming the task', async () => {
    const id = await create(workflow('slow-action', [{ name: 'only', actions: [sh('sleepy', 'sleep 60', { timeout: '1s' })] }]));
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('timed_out');
    expect(run.reason).toBe('action only.sleepy timed out after 1s');
    expect(action(run, 'only', 'sleepy').status).toBe('timed_out');
  });

  it('times out a whole run', async () => {
    const id = await create(workflow('slow-run', [{ name: 'only', actions: [sh('sleepy', 'sleep 60')] }], { timeout: '2s' }));
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('timed_out');
    expect(run.reason).toBe('run timed out after 2s while only.sleepy was running');
  });

  it('shares one workspace volume among the actions and attempts of a run, and removes it when the run ends', async () => {
    const id = await create(
      workflow('workspace', [
        {
          name: 'write',
          actions: [
            // The first attempt leaves a file and fails; the retry finds it.
            sh('note', 'if [ "$CO_TASK_ATTEMPT" = 1 ]; then echo first > "$CO_WORKSPACE/attempt"; exit 1; fi; cat /workspace/attempt > /workspace/note && echo second >> /workspace/note', {
              retries: { limit: 1, backoff: '100ms' },
            }),
          ],
        },
        { name: 'read', actions: [sh('note', 'echo "[COUT] note = $(tr \'\\n\' + < /workspace/note)"', { outputs: ['note'] })] },
      ]),
    );
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 'write', 'note').attempts).toBe(2);
    expect(action(run, 'read', 'note').outputs).toEqual({ note: 'first+second+' });
    const engine = podmanEngine();
    const volumes = async () => {
      const filters = JSON.stringify({ name: [`co-run-${run.id}`] });
      const { body } = await engine.call<{ Volumes: Array<{ Name: string }> | null }>('GET', '/volumes', { query: { filters } });
      return (body.Volumes ?? []).map((volume) => volume.Name).filter((name) => name === `co-run-${run.id}`);
    };
    await eventually(async () => (await volumes()).length === 0, 15_000, `volume co-run-${run.id} to be removed`);
  });

  it('retries with backoff, each attempt its own container and record', async () => {
    const id = await create(
      workflow('flaky', [
        {
          name: 'only',
          actions: [
            sh('flaky', 'echo "attempt $CO_TASK_ATTEMPT"; [ "$CO_TASK_ATTEMPT" -ge 3 ]', { retries: { limit: 3, backoff: '200ms' } }),
            sh('forgetful', 'if [ "$CO_TASK_ATTEMPT" = 1 ]; then echo "[COUT] note = first"; exit 1; fi', { outputs: ['note'], retries: { limit: 1, backoff: '100ms' } }),
            sh('hopeless', 'exit 1', { retries: { limit: 1, backoff: '100ms' } }),
          ],
        },
      ]),
    );
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(action(run, 'only', 'flaky')).toMatchObject({ status: 'succeeded', attempts: 3 });
    // Nothing of a failed attempt carries over to the next.
    expect(action(run, 'only', 'forgetful')).toMatchObject({ status: 'succeeded', attempts: 2, outputs: {} });
    expect(action(run, 'only', 'hopeless')).toMatchObject({ status: 'failed', attempts: 2 });
    expect(run.status).toBe('failed');
    const log = await taskLog(base, run.id, 'only.flaky', (lines) => texts(lines).includes('attempt 3'), '?source=container');
    const attempts = log.lines.map((line: any) => [Number(line.labels.attempt), line.text]);
    expect(attempts).toEqual([
      [1, 'attempt 1'],
      [2, 'attempt 2'],
      [3, 'attempt 3'],
    ]);
  });

  it('reports runtime problems in plain words in the reason and the task log', async () => {
    const id = await create(
      workflow('broken-images', [
        {
          name: 'only',
          sequencing: 'parallel',
          actions: [
            { name: 'absent', image: 'localhost/co-missing:1', pullPolicy: 'Never', command: ['true'] },
            { name: 'unreachable', image: '127.0.0.1:1/nothing/here:1', command: ['true'] },
          ],
        },
      ]),
    );
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(run.status).toBe('failed');
    expect(action(run, 'only', 'absent').reason).toBe('image localhost/co-missing:1 is not present on the container engine and the pull policy is Never');
    const unreachable = action(run, 'only', 'unreachable');
    expect(['failed', 'stopped']).toContain(unreachable.status);
    if (unreachable.status === 'failed') expect(unreachable.reason).toMatch(/^cannot pull 127\.0\.0\.1:1\/nothing\/here:1: registry 127\.0\.0\.1:1 is unreachable/);
    await taskLog(base, run.id, 'only.absent', (lines) => texts(lines).includes(action(run, 'only', 'absent').reason));
  });

  it('fails a task whose output passes the size limit', async () => {
    const id = await create(workflow('too-big', [{ name: 'only', actions: [sh('big', 'printf "[COUT] big = %020000d\\n" 0', { outputs: ['big'] })] }]));
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(action(run, 'only', 'big')).toMatchObject({ status: 'failed', reason: 'output big is 20000 bytes; the limit for one output is 16384 bytes' });
  });

  it('names memory as the likely cause when a container with a memory limit is killed', async () => {
    const id = await create(
      workflow('hungry', [{ name: 'only', actions: [sh('hungry', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo done', { resources: { memory: '16Mi' } })] }]),
    );
    const run = await finishedRun(base, (await runOf(id)).id);
    expect(action(run, 'only', 'hungry')).toMatchObject({
      status: 'failed',
      exitCode: 137,
      reason: 'exit code 137: the container was killed (SIGKILL); with a memory limit of 16Mi this usually means it ran out of memory',
    });
  });

  it('stops a run idempotently: SIGTERM, grace, then the run is stopped', async () => {
    const id = await create(workflow('stoppable', [{ name: 'only', actions: [sh('wait', 'sleep 60')] }, { name: 'later', actions: [sh('never', 'true')] }]));
    const { id: runId } = await runOf(id);
    await runStatus(base, runId, (run) => action(run, 'only', 'wait').status === 'running', 'the task to run');
    const first = await call(base, 'POST', `/api/v1/runs/${runId}/stop`);
    expect(first.status).toBe(200);
    expect(first.body.stopRequestedAt).toEqual(expect.any(String));
    const again = await call(base, 'POST', `/api/v1/runs/${runId}/stop`);
    expect(again.status).toBe(200);
    const run = await finishedRun(base, runId);
    expect(run).toMatchObject({ status: 'stopped', reason: 'stopped by pilot' });
    expect(action(run, 'only', 'wait').status).toBe('stopped');
    expect(run.stages[1].status).toBe('skipped');
    const afterwards = await call(base, 'POST', `/api/v1/runs/${runId}/stop`);
    expect(afterwards.body.status).toBe('stopped');
  });

  it('reruns a run from its own snapshot, not the current revision', async () => {
    const id = await create(workflow('versioned', [{ name: 'only', actions: [sh('say', 'echo "[COUT] version = one"', { outputs: ['version'] })] }]));
    const first = await finishedRun(base, (await runOf(id)).id);
    expect(action(first, 'only', 'say').outputs).toEqual({ version: 'one' });

    const edited = workflow('versioned', [{ name: 'only', actions: [sh('say', 'echo "[COUT] version = two"', { outputs: ['version'] })] }]);
    expect((await call(base, 'PUT', `/api/v1/workflows/${id}`, edited)).body.revision).toBe(2);
    const fresh = await finishedRun(base, (await runOf(id)).id);
    expect(action(fresh, 'only', 'say').outputs).toEqual({ version: 'two' });

    const rerun = await call(base, 'POST', `/api/v1/runs/${first.id}/rerun`);
    expect(rerun.status).toBe(201);
    expect(rerun.body.number).toBe(3);
    const again = await finishedRun(base, rerun.body.id);
    expect(again).toMatchObject({ status: 'succeeded', revision: 1, trigger: { type: 'rerun', rerunOf: first.id } });
    expect(action(again, 'only', 'say').outputs).toEqual({ version: 'one' });
  });

  it('gives concurrent starts distinct, gap-free numbers and queues runs beyond the concurrency limit', async () => {
    const id = await create(workflow('crowded', [{ name: 'only', actions: [sh('quick', 'sleep 0.2')] }], { concurrency: 2 }));
    const started = await Promise.all(Array.from({ length: 12 }, () => runOf(id)));
    expect(started.map((run) => run.number).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
    const listed = await call(base, 'GET', `/api/v1/workflows/${id}/runs`);
    const running = listed.body.items.filter((run: any) => run.status === 'running').length;
    expect(running).toBeLessThanOrEqual(2);
    const runs = await Promise.all(started.map((run) => finishedRun(base, run.id)));
    expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
    const list = await call(base, 'GET', `/api/v1/workflows/${id}/runs`);
    expect(list.body.items.map((run: any) => run.number)).toEqual(Array.from({ length: 12 }, (_, index) => 12 - index));
  });

  it('accepts protocol events over HTTP with the task token and refuses another task\'s token', async () => {
    const script = [
      'busybox wget -q -O - --header "Authorization: Bearer $CO_EVENT_TOKEN" --header "Content-Type: application/json"',
      `--post-data '{"EVENT":"CO_TASK_RESULT","EVENT_ID":"1","INFO":{"result":true,"output":{"via":"http","extra":"dropped"}}}' "$CO_EVENT_URL"`,
      '&& sleep 30',
    ].join(' ');
    const id = await create(
      workflow('protocol', [{ name: 'only', sequencing: 'parallel', actions: [sh('talker', script, { outputs: ['via'] }), sh('other', 'sleep 30')] }]),
    );
    const { id: runId } = await runOf(id);
    const run = await runStatus(base, runId, (r) => action(r, 'only', 'talker').outputs.via === 'http', 'the HTTP result').catch(async (error) => {
      console.log(JSON.stringify((await call(base, 'GET', `/api/v1/runs/${runId}/tasks/only.talker/logs`)).body));
      throw error;
    });
    expect(action(run, 'only', 'talker').outputs).toEqual({ via: 'http' });

    const url = (task: string) => `${base}/api/v1/runs/${runId}/tasks/${task}/attempts/1/events`;
    const post = (task: string, token?: string) =>
      fetch(url(task), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ EVENT: 'CO_TASK_STATUS', INFO: { status: 'working' } }),
      });
    const missing = await post('only.other');
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as any).error.code).toBe('TASK.TOKEN_INVALID');
    // A well-formed token of another task (the one the engine would give only.talker).
    const tokens = pilotage.service.app.get(TaskTokens);
    const wrong = await post('only.other', tokens.issue(runId, 'only.talker', 1));
    expect(wrong.status).toBe(401);
    const right = await post('only.other', tokens.issue(runId, 'only.other', 1));
    expect(right.status).toBe(202);
    const huge = await fetch(url('only.talker'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.issue(runId, 'only.talker', 1)}` },
      body: JSON.stringify({ EVENT: 'CO_TASK_RESULT', INFO: { output: { via: 'x'.repeat(20_000) } } }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as any).error.code).toBe('TASK.OUTPUT_TOO_LARGE');
    await call(base, 'POST', `/api/v1/runs/${runId}/stop`);
    await finishedRun(base, runId);
  });
});
