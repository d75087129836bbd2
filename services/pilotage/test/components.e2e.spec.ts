import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { busyboxLayout, client, registryClientEnvironment, type ClientEnvironment } from '../../dockyard/test/fixtures/images';
import { startNucleus, type TestNucleus } from '../../nucleus/test/support/nucleus';
import { action, call, callAs, finishedRun, workflow } from './support/api';
import { invokeAs, pilotageClients } from './support/grpc';
import { startPilotage, type TestPilotage } from './support/pilotage';
import { removeImage } from './support/podman';

jest.setTimeout(300_000);

/**
 * crew, dockyard, nucleus and pilotage on one subject prefix and one crew; component
 * images pushed into dockyard, published in nucleus, and used by workflows that run on
 * the real Podman.
 *
 * Podman's service reads the machine's registries.conf, which marks only 127.0.0.1:5000
 * insecure, while this dockyard listens on a free port over plain HTTP. So the test loads
 * each pinned image into Podman itself (`podman pull <image>@<digest>` with a
 * registries.conf of its own): the engine then finds the image by its pinned digest and
 * runs exactly that (a component action pulls only when the image is missing).
 */
describe('component actions: resolved, checked and pinned at save, run on Podman', () => {
  let nucleus: TestNucleus;
  let pilotage: TestPilotage;
  let base: string;
  let clients: ClientEnvironment;
  let authDir: string;
  let adminToken: string;
  const workspace = 'comps';
  const preloaded: string[] = [];

  async function pushImage(repository: string, tag: string, message: string): Promise<string> {
    const layout = await busyboxLayout({ tag, extraFile: { name: 'message', content: message } });
    try {
      const admin = nucleus.dockyard.crew.admin;
      await client(
        'skopeo',
        ['copy', '--dest-tls-verify=false', '--dest-creds', `admin:${admin.password}`, layout.reference, `docker://${nucleus.dockyard.host}/${workspace}/${repository}:${tag}`],
        clients.env,
      );
      return layout.manifestDigest;
    } finally {
      layout.remove();
    }
  }

  /** Loads a pinned image into Podman's storage, as the engine would have pulled it. */
  async function preload(pinnedImage: string): Promise<void> {
    await client('podman', ['pull', '--quiet', '--creds', `admin:${nucleus.dockyard.crew.admin.password}`, pinnedImage], clients.env);
    preloaded.push(pinnedImage);
  }

  function manifest(name: string, version: string, tag: string, spec: Record<string, unknown> = {}) {
    return {
      apiVersion: 'containerops.io/v1',
      kind: 'Component',
      metadata: { name, namespace: 'default', version },
      spec: { image: `${nucleus.dockyard.host}/${workspace}/${name}:${tag}`, ...spec },
    };
  }

  const GREETER_SPEC = {
    command: ['sh', '-c', "echo '[COUT] greeting = hello'"],
    inputs: { type: 'object', properties: { name: { type: 'string' }, times: { type: 'integer', minimum: 1 } }, required: ['name'] },
    outputs: { greeting: { type: 'string' } },
    overridable: { env: ['GREETING_STYLE'] },
  };

  async function publish(body: unknown) {
    const answer = await nucleus.call('POST', '/api/v1/components', adminToken, body);
    if (answer.status !== 201) throw new Error(`publishing failed: ${answer.status} ${answer.text}`);
    return answer.body;
  }

  async function save(document: unknown) {
    return call(base, 'POST', '/api/v1/workflows', document);
  }

  async function runToEnd(workflowId: string) {
    const started = await call(base, 'POST', `/api/v1/workflows/${workflowId}/runs`, {});
    expect(started.status).toBe(201);
    return finishedRun(base, started.body.id, 120_000);
  }

  beforeAll(async () => {
    nucleus = await startNucleus();
    const dockyard = nucleus.dockyard;
    adminToken = dockyard.crew.admin.token;
    clients = registryClientEnvironment(dockyard.host);
    await dockyard.createWorkspace(workspace, { org: 'default', project: 'admin' });
    const pilot = await dockyard.createUser('pilot');
    await dockyard.addMember('default', 'pilot', 'org-admin');
    // The engine's registry credentials for dockyard (used when it has to pull).
    authDir = mkdtempSync(path.join(tmpdir(), 'co-engine-auth-'));
    const authFile = path.join(authDir, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [dockyard.host]: { username: 'admin', password: dockyard.crew.admin.password } } }));
    pilotage = await startPilotage(
      { CO_SUBJECT_PREFIX: dockyard.prefix },
      'distributed',
      { CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: nucleus.service.grpcAddress, CO_PILOTAGE_REGISTRY_AUTH_FILE: authFile },
      { ...dockyard.crew, pilot },
    );
    base = pilotage.url;
  });

  afterAll(async () => {
    // The dockyard's port is new every time: its images would only pile up in Podman.
    for (const image of preloaded) await removeImage(image).catch(() => undefined);
    await pilotage?.close();
    await nucleus?.close();
    clients?.remove();
    if (authDir) rmSync(authDir, { recursive: true, force: true });
  });

  it('saves a workflow using default/greeter@^1, pins version and digest into the revision, and runs it on Podman with the declared output', async () => {
    const digest = await pushImage('greeter', '1.0.0', 'one');
    const published = await publish(manifest('greeter', '1.0.0', '1.0.0', GREETER_SPEC));
    expect(published.imageDigest).toBe(digest);
    await preload(published.pinnedImage);

    const saved = await save(
      workflow('greets', [
        { name: 'greet', actions: [{ name: 'hello', component: 'default/greeter@^1', inputs: { name: 'world' }, env: { GREETING_STYLE: 'warm' } }] },
        { name: 'use', actions: [{ name: 'echo', image: 'localhost/co-busybox:1', command: ['sh', '-c', 'echo "$G"'], env: { G: '${stages.greet.hello.outputs.greeting}' } }] },
      ]),
    );
    expect(saved.status).toBe(201);
    expect(saved.body.warnings).toBeUndefined();
    const pinned = saved.body.definition.spec.stages[0].actions[0].pinned;
    expect(pinned).toEqual({
      component: 'default/greeter',
      version: '1.0.0',
      image: published.pinnedImage,
      digest,
      command: GREETER_SPEC.command,
      env: {},
      outputs: ['greeting'],
    });
    expect(pinned.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    const revisions = await call(base, 'GET', `/api/v1/workflows/${saved.body.id}/revisions`);
    expect(revisions.body[0].definition.spec.stages[0].actions[0].pinned.digest).toBe(digest);

    const run = await runToEnd(saved.body.id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 'greet', 'hello').outputs).toEqual({ greeting: 'hello' });
  });

  it('refuses inputs that violate the component schema, with every path at once (expressions are not checked)', async () => {
    const answer = await save(
      workflow('bad-inputs', [
        {
          name: 'greet',
          actions: [
            { name: 'a', component: 'default/greeter@^1', inputs: { times: 0 } },
            { name: 'b', component: 'default/greeter@^1', inputs: { name: 42, times: '${params.n}' } },
          ],
        },
      ], { params: { n: 2 } }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('WORKFLOW.INVALID');
    const issues = answer.body.error.details.issues.map((issue: { path: string; code: string }) => [issue.path, issue.code]).sort();
    expect(issues).toEqual([
      ['$.spec.stages[0].actions[0].inputs.name', 'COMPONENT.INPUTS_INVALID'],
      ['$.spec.stages[0].actions[0].inputs.times', 'COMPONENT.INPUTS_INVALID'],
      ['$.spec.stages[0].actions[1].inputs.name', 'COMPONENT.INPUTS_INVALID'],
    ]);
    expect((await call(base, 'GET', '/api/v1/workflows?name=bad-inputs')).body.total).toBe(0);
  });

  it('refuses references to outputs the component does not declare, overrides it does not allow, and unknown components', async () => {
    const answer = await save(
      workflow('bad-refs', [
        { name: 'greet', actions: [{ name: 'hello', component: 'default/greeter@^1', inputs: { name: 'x' }, command: ['sh'], env: { OTHER: '1' } }] },
        { name: 'use', actions: [{ name: 'echo', image: 'localhost/co-busybox:1', command: ['echo', '${stages.greet.hello.outputs.farewell}'] }, { name: 'missing', component: 'default/nothing-here@1' }] },
      ]),
    );
    expect(answer.status).toBe(400);
    const issues = answer.body.error.details.issues.map((issue: { path: string; code: string }) => [issue.path, issue.code]).sort();
    expect(issues).toEqual([
      ['$.spec.stages[0].actions[0].command', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[0].env.OTHER', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[0].outputs.farewell', 'COMPONENT.UNDECLARED_OUTPUT'],
      ['$.spec.stages[1].actions[1].component', 'COMPONENT.NOT_FOUND'],
    ]);
  });

  it('names args, not command, when args is the override the component forbids', async () => {
    const answer = await save(
      workflow('bad-args', [{ name: 'greet', actions: [{ name: 'hello', component: 'default/greeter@^1', inputs: { name: 'x' }, args: ['--loud'] }] }]),
    );
    expect(answer.status).toBe(400);
    const issues = answer.body.error.details.issues.map((issue: { path: string; code: string }) => [issue.path, issue.code]);
    expect(issues).toEqual([['$.spec.stages[0].actions[0].args', 'COMPONENT.OVERRIDE_NOT_ALLOWED']]);
    expect(answer.body.error.details.issues[0].message).toMatch(/remove args\.$/);
  });

  it("resolves as the caller: another organization's org component is unknown to them, a public one is not", async () => {
    const dockyard = nucleus.dockyard;
    await dockyard.ensureProject('elsewhere/place');
    const outsider = await dockyard.createUser('outsider');
    await dockyard.addMember('elsewhere', 'outsider', 'org-admin');
    await pushImage('shared', '1.0.0', 'shared');
    await publish({ ...manifest('shared', '1.0.0', '1.0.0', { command: ['true'] }), metadata: { name: 'shared', namespace: 'default', version: '1.0.0', visibility: 'public' } });
    const document = (name: string, component: string) => ({
      ...workflow(name, [{ name: 's', actions: [{ name: 'c', component, inputs: { name: 'x' } }] }]),
      metadata: { name, project: 'elsewhere/place' },
    });
    const hidden = await callAs(outsider.token, base, 'POST', '/api/v1/workflows', document('outside-org', 'default/greeter@^1'));
    expect(hidden.status).toBe(400);
    expect(hidden.body.error.details.issues).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.NOT_FOUND' })]);
    const visible = await callAs(outsider.token, base, 'POST', '/api/v1/workflows', document('outside-public', 'default/shared@1'));
    expect(visible.status).toBe(201);
    expect(visible.body.definition.spec.stages[0].actions[0].pinned).toMatchObject({ component: 'default/shared', version: '1.0.0' });
  });

  it('keeps running a saved revision whose version was yanked, while new saves cannot resolve to it; deprecation warns at save', async () => {
    await pushImage('yanky', '1.0.0', 'one');
    const published = await publish(manifest('yanky', '1.0.0', '1.0.0', { command: ['sh', '-c', "echo '[COUT] said = yanky-one'"], outputs: { said: { type: 'string' } } }));
    await preload(published.pinnedImage);
    const saved = await save(workflow('uses-yanky', [{ name: 's', actions: [{ name: 'y', component: 'default/yanky@^1' }] }]));
    expect(saved.status).toBe(201);

    const deprecated = await nucleus.call('POST', '/api/v1/components/default/yanky/1.0.0/deprecate', adminToken, { message: 'use 2.x' });
    expect(deprecated.status).toBe(200);
    const warned = await save(workflow('warned-yanky', [{ name: 's', actions: [{ name: 'y', component: 'default/yanky@^1' }] }]));
    expect(warned.status).toBe(201);
    expect(warned.body.warnings).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.DEPRECATED' })]);
    expect(warned.body.warnings[0].message).toContain('use 2.x');

    // The gRPC save answers carry the same warnings (CreateWorkflow, UpdateWorkflow).
    const grpcClients = pilotageClients(pilotage.service.grpcAddress);
    try {
      const token = pilotage.crew.pilot.token;
      const document = (name: string) => JSON.stringify(workflow(name, [{ name: 's', actions: [{ name: 'y', component: 'default/yanky@^1' }] }]));
      const created = await invokeAs(token, grpcClients.workflows, 'createWorkflow', { document: document('grpc-warned-yanky'), format: 'json' });
      expect(created.workflow.warnings).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.DEPRECATED' })]);
      expect(created.workflow.warnings[0].message).toContain('use 2.x');
      const updated = await invokeAs(token, grpcClients.workflows, 'updateWorkflow', { id: created.workflow.id, document: document('grpc-warned-yanky'), format: 'json' });
      expect(updated).toMatchObject({ revision: 2, warnings: [expect.objectContaining({ code: 'COMPONENT.DEPRECATED' })] });
      // Only save answers carry warnings.
      expect((await invokeAs(token, grpcClients.workflows, 'getWorkflow', { id: created.workflow.id })).warnings).toEqual([]);
    } finally {
      grpcClients.close();
    }

    const yanked = await nucleus.call('POST', '/api/v1/components/default/yanky/1.0.0/yank', adminToken, { reason: 'broken' });
    expect(yanked.status).toBe(200);
    const refused = await save(workflow('after-yank', [{ name: 's', actions: [{ name: 'y', component: 'default/yanky@^1' }] }]));
    expect(refused.status).toBe(400);
    expect(refused.body.error.details.issues).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.NO_MATCHING_VERSION' })]);

    const run = await runToEnd(saved.body.id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 's', 'y').outputs).toEqual({ said: 'yanky-one' });
  });

  it('runs the pinned digest after the tag was moved to another image', async () => {
    const first = await pushImage('teller', 'stable', '[COUT] said = first\n');
    const published = await publish(manifest('teller', '1.0.0', 'stable', { command: ['cat', '/message'], outputs: { said: { type: 'string' } } }));
    expect(published.imageDigest).toBe(first);
    await preload(published.pinnedImage);
    const saved = await save(workflow('tells', [{ name: 's', actions: [{ name: 't', component: 'default/teller@1.0.0' }] }]));
    expect(saved.status).toBe(201);

    const second = await pushImage('teller', 'stable', '[COUT] said = second\n');
    expect(second).not.toBe(first);
    const run = await runToEnd(saved.body.id);
    expect(run.status).toBe('succeeded');
    expect(action(run, 's', 't').outputs).toEqual({ said: 'first' });
  });
});
