import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import { parse as parseYaml } from 'yaml';
import { action, BUSYBOX, call, finishedRun, runStatus, sh, workflow } from './support/api';
import { WORKFLOW_MAX_BYTES } from '../src/workflows/workflow-input';
import { ensureBusyboxImage } from './support/podman';
import { startPilotage, type TestPilotage } from './support/pilotage';

const HELLO_DATA = readFileSync(path.join(__dirname, 'fixtures/hello-data.yaml'), 'utf8');

/** A workflow document in any project. */
function inProject(project: string, name: string, stages: unknown[] = [{ name: 'only', actions: [sh('say', 'echo hi')] }], spec: Record<string, unknown> = {}) {
  const document = workflow(name, stages, spec);
  return { ...document, metadata: { ...document.metadata, project } };
}

const quick = (name: string) => workflow(name, [{ name: 'only', actions: [sh('say', 'echo hi')] }]);

jest.setTimeout(120_000);

describe('managing workflows over the REST API', () => {
  let pilotage: TestPilotage;
  let base: string;
  /** Stands where nucleus would: accepts connections and drops them, as a nucleus that is down. */
  let deadNucleus: Server;

  beforeAll(async () => {
    await ensureBusyboxImage();
    deadNucleus = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => deadNucleus.listen(0, '127.0.0.1', resolve));
    const nucleusAddress = `127.0.0.1:${(deadNucleus.address() as AddressInfo).port}`;
    pilotage = await startPilotage({}, 'distributed', { CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: nucleusAddress });
    base = pilotage.url;
  });

  afterAll(async () => {
    await pilotage?.close();
    await new Promise((resolve) => deadNucleus?.close(resolve));
  });

  async function create(document: unknown, contentType = 'application/json') {
    const created = await call(base, 'POST', '/api/v1/workflows', document, contentType);
    if (created.status !== 201) console.log(JSON.stringify(created.body, null, 1));
    expect(created.status).toBe(201);
    return created.body;
  }

  async function runOf(workflowId: string, params?: Record<string, unknown>) {
    const started = await call(base, 'POST', `/api/v1/workflows/${workflowId}/runs`, params ? { params } : {});
    if (started.status !== 201) console.log(JSON.stringify(started.body, null, 1));
    expect(started.status).toBe(201);
    return started.body as { id: string; number: number; status: string };
  }

  async function listed(query: string) {
    const answer = await call(base, 'GET', `/api/v1/workflows?${query}`);
    expect(answer.status).toBe(200);
    return answer.body as { items: any[]; page: number; pageSize: number; total: number };
  }

  describe('creating', () => {
    it('creates from YAML and from JSON; answers carry the id, and GET returns the saved definition', async () => {
      const fromYaml = await create(HELLO_DATA.replace('name: hello-data', 'name: from-yaml'), 'application/yaml');
      expect(fromYaml).toMatchObject({ name: 'from-yaml', project: 'default/admin', revision: 1, active: true });
      expect(fromYaml.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(fromYaml.run).toBeUndefined();

      const fromJson = await create(quick('from-json'));
      expect(fromJson).toMatchObject({ name: 'from-json', project: 'default/admin', revision: 1, active: true });
      expect(fromJson.id).not.toBe(fromYaml.id);

      const got = await call(base, 'GET', `/api/v1/workflows/${fromYaml.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id: fromYaml.id, name: 'from-yaml', revision: 1 });
      expect(got.body.definition.spec.stages.map((stage: any) => [stage.name, stage.actions.map((a: any) => a.name)])).toEqual([
        ['produce', ['left', 'right']],
        ['consume', ['join']],
      ]);
      expect(got.body.definition.spec.stages[1].actions[0].inputs).toEqual({
        a: '${stages.produce.left.outputs.word}',
        b: '${stages.produce.right.outputs.word}',
      });
    });

    it('accepts the other YAML media types and a charset parameter', async () => {
      for (const [index, type] of ['application/x-yaml', 'text/yaml', 'application/yaml; charset=utf-8'].entries()) {
        const created = await create(HELLO_DATA.replace('name: hello-data', `name: media-${index}`), type);
        expect(created.name).toBe(`media-${index}`);
      }
    });

    it('saves and runs at once with ?run=true', async () => {
      const created = await call(base, 'POST', '/api/v1/workflows?run=true', HELLO_DATA, 'application/yaml');
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'hello-data', revision: 1, run: { number: 1, status: 'queued', workflowId: created.body.id } });
      const run = await finishedRun(base, created.body.run.id);
      expect(run.status).toBe('succeeded');
      expect(action(run, 'consume', 'join').outputs).toEqual({ joined: 'hello-world' });

      const fromJson = await call(base, 'POST', '/api/v1/workflows?run=true', quick('run-at-once-json'));
      expect(fromJson.status).toBe(201);
      expect(fromJson.body.run).toMatchObject({ number: 1, workflowId: fromJson.body.id });
      expect((await finishedRun(base, fromJson.body.run.id)).status).toBe('succeeded');
    });

    it('refuses other content types with 415 and a clear message, creating nothing', async () => {
      for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
        const answer = await call(base, 'POST', '/api/v1/workflows', JSON.stringify(quick('wrong-type')), type);
        expect(answer.status).toBe(415);
        expect(answer.body.error.code).toBe('REQUEST.UNSUPPORTED_MEDIA_TYPE');
        expect(answer.body.error.message).toMatch(/application\/yaml/);
        expect(answer.body.error.message).toMatch(/application\/json/);
      }
      expect((await listed('name=wrong-type')).total).toBe(0);
      expect((await call(base, 'POST', '/api/v1/workflows', JSON.stringify(quick('wrong-type')), 'application/json')).status).toBe(201);
    });

    it('answers malformed YAML with 400 WORKFLOW.PARSE_ERROR and the line and column', async () => {
      const text = 'apiVersion: containerops.io/v1\nkind: Workflow\nmetadata:\n  name: [oops\n  project: default/admin\n';
      const answer = await call(base, 'POST', '/api/v1/workflows', text, 'application/yaml');
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('WORKFLOW.PARSE_ERROR');
      expect(answer.body.error.message).toMatch(/line 5, column 3/);
      expect(answer.body.error.details.issues[0]).toMatchObject({ code: 'WORKFLOW.PARSE_ERROR', line: 5, column: 3 });

      const duplicate = await call(base, 'POST', '/api/v1/workflows', 'apiVersion: containerops.io/v1\nkind: Workflow\nkind: Workflow\n', 'application/yaml');
      expect(duplicate.status).toBe(400);
      expect(duplicate.body.error.code).toBe('WORKFLOW.PARSE_ERROR');
      expect(duplicate.body.error.details.issues[0]).toMatchObject({ line: 3, column: 1 });

      const empty = await call(base, 'POST', '/api/v1/workflows', '   \n', 'application/yaml');
      expect(empty.status).toBe(400);
      expect(empty.body.error.code).toBe('WORKFLOW.PARSE_ERROR');
    });

    it('answers malformed JSON with the platform\'s 400 REQUEST.MALFORMED (the body parser sees it first)', async () => {
      const text = '{\n  "apiVersion": "containerops.io/v1",\n  "kind": "Workflow",\n  "metadata": {"name": "broken-json", }\n}';
      const answer = await call(base, 'POST', '/api/v1/workflows', text, 'application/json');
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('REQUEST.MALFORMED');
      expect(answer.body.error.message).toMatch(/JSON/);
    });

    it('answers an invalid document with 400 WORKFLOW.INVALID listing every problem with its path and code', async () => {
      const step = (name: string, extra: Record<string, unknown> = {}) => sh(name, 'true', extra);
      const document = {
        apiVersion: 'containerops.io/v1',
        kind: 'Workflow',
        metadata: { name: 'Bad_Name', project: 'default/admin', colour: 'red' },
        spec: {
          stages: [
            {
              name: 'prepare',
              actions: [
                step('a', { outputs: ['x'], pullpolicy: 'Always' }),
                step('usesMissing', { inputs: { v: '${stages.prepare.a.outputs.missing}' } }),
                step('usesLater', { inputs: { v: '${stages.ship.deploy.outputs.url}' } }),
              ],
            },
            { name: 'fanout', sequencing: 'parallel', actions: [step('left', { outputs: ['word'] }), step('right', { inputs: { w: '${stages.fanout.left.outputs.word}' } })] },
            { name: 'ship', actions: [step('deploy', { outputs: ['url'] }), step('target')] },
            { name: 'prepare', actions: [step('again')] },
          ],
          links: [
            { from: 'stages.prepare.a.outputs.x', to: 'stages.ship.target.inputs.src' },
            { from: 'stages.fanout.left.outputs.word', to: 'stages.ship.target.inputs.src' },
          ],
        },
      };
      const answer = await call(base, 'POST', '/api/v1/workflows', document);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('WORKFLOW.INVALID');
      const issues = answer.body.error.details.issues as Array<{ path: string; code: string; message: string }>;
      expect(issues.map((issue) => [issue.path, issue.code]).sort()).toEqual(
        [
          ['$.metadata.colour', 'WORKFLOW.UNKNOWN_FIELD'],
          ['$.metadata.name', 'WORKFLOW.INVALID_NAME'],
          ['$.spec.stages[0].actions[0].pullpolicy', 'WORKFLOW.UNKNOWN_FIELD'],
          ['$.spec.stages[3].name', 'WORKFLOW.DUPLICATE_STAGE'],
          ['$.spec.stages[0].actions[1].inputs.v', 'WORKFLOW.UNDECLARED_OUTPUT'],
          ['$.spec.stages[0].actions[2].inputs.v', 'WORKFLOW.FORWARD_REFERENCE'],
          ['$.spec.stages[1].actions[1].inputs.w', 'WORKFLOW.PARALLEL_SIBLING_REFERENCE'],
          ['$.spec.links[1].to', 'WORKFLOW.EVENT_CONFLICT'],
        ].sort(),
      );
      expect(issues.every((issue) => typeof issue.message === 'string' && issue.message.length > 0)).toBe(true);
      const conflict = issues.find((issue) => issue.code === 'WORKFLOW.EVENT_CONFLICT')!;
      expect(conflict.message).toContain('links[0]');
      expect(conflict.message).toContain('links[1]');
      expect(issues.find((issue) => issue.path.endsWith('pullpolicy'))!.message).toContain('pullPolicy');
      expect(answer.body.error.message).toMatch(/8 problems/);

      // Nothing of it was kept: neither a workflow nor its (fixed) name.
      expect((await listed('project=default/admin&name=bad')).items.map((item) => item.name)).toEqual([]);
    });

    it('leaves nothing behind when a create fails: no workflow, and the name stays free', async () => {
      const broken = workflow('half-written', [{ name: 'only', actions: [{ name: 'no-image' }] }]);
      for (const query of ['', '?run=true']) {
        const answer = await call(base, 'POST', `/api/v1/workflows${query}`, broken);
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('WORKFLOW.INVALID');
        expect(answer.body.error.details.issues).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0]', code: 'WORKFLOW.IMAGE_XOR_COMPONENT' })]);
      }
      const badQuery = await call(base, 'POST', '/api/v1/workflows?run=maybe', quick('half-written'));
      expect(badQuery.status).toBe(400);
      expect((await listed('name=half-written')).total).toBe(0);

      const created = await create(quick('half-written'));
      expect(created.revision).toBe(1);
      const runs = await call(base, 'GET', `/api/v1/workflows/${created.id}/runs`);
      expect(runs.body.items).toEqual([]);
    });

    it('gives a workflow created without stages the stages Source, Build, Test, Deploy', async () => {
      const absent = await create({ apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name: 'no-stages', project: 'default/admin' }, spec: {} });
      expect(absent.definition.spec.stages.map((stage: any) => stage.name)).toEqual(['Source', 'Build', 'Test', 'Deploy']);
      expect(absent.definition.spec.stages.every((stage: any) => Array.isArray(stage.actions) && stage.actions.length === 0)).toBe(true);

      const empty = await create('apiVersion: containerops.io/v1\nkind: Workflow\nmetadata:\n  name: empty-stages\n  project: default/admin\nspec:\n  stages: []\n', 'application/yaml');
      const got = await call(base, 'GET', `/api/v1/workflows/${empty.id}`);
      expect(got.body.definition.spec.stages.map((stage: any) => stage.name)).toEqual(['Source', 'Build', 'Test', 'Deploy']);
      const revisions = await call(base, 'GET', `/api/v1/workflows/${empty.id}/revisions`);
      expect(revisions.body[0].definition.spec.stages.map((stage: any) => stage.name)).toEqual(['Source', 'Build', 'Test', 'Deploy']);
    });

    it('keeps names unique per project: 409 WORKFLOW.NAME_TAKEN, even for concurrent creates', async () => {
      const first = await create(quick('unique-name'));
      const again = await call(base, 'POST', '/api/v1/workflows', quick('unique-name'));
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('WORKFLOW.NAME_TAKEN');
      expect(again.body.error.details.workflowId).toBe(first.id);
      const yaml = await call(base, 'POST', '/api/v1/workflows', HELLO_DATA.replace('name: hello-data', 'name: unique-name'), 'application/yaml');
      expect(yaml.status).toBe(409);

      const elsewhere = await create(inProject('other/team', 'unique-name'));
      expect(elsewhere).toMatchObject({ name: 'unique-name', project: 'other/team' });

      const racing = await Promise.all(Array.from({ length: 6 }, () => call(base, 'POST', '/api/v1/workflows', quick('raced-name'))));
      expect(racing.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect((await listed('project=default/admin&name=raced-name')).total).toBe(1);
    });
  });


  it('answers 503 and saves nothing while the component registry (nucleus) cannot be reached; workflows without components do not ask it', async () => {
    const document = workflow('with-component', [
      { name: 'only', actions: [{ name: 'greet', component: 'default/greeter@^1.0' }, sh('plain', 'true')] },
    ]);
    const answer = await call(base, 'POST', '/api/v1/workflows', document);
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('WORKFLOW.COMPONENTS_UNAVAILABLE');
    const listed = await call(base, 'GET', '/api/v1/workflows?name=with-component');
    expect(listed.body.total).toBe(0);
    // Still checked locally first: a malformed workflow is a 400 without asking nucleus.
    const invalid = await call(base, 'POST', '/api/v1/workflows', workflow('bad-component', [{ name: 'only', actions: [{ name: 'greet', component: 'default/greeter@^1.0', pullPolicy: 'Always' }] }]));
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.issues).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].pullPolicy', code: 'WORKFLOW.IMAGE_OPTION_WITH_COMPONENT' })]);
  });

  it('publishes the JSON Schema, which validates the hello-data example with ajv (draft 2020-12)', async () => {
    const answer = await call(base, 'GET', '/api/v1/schemas/workflow');
    expect(answer.status).toBe(200);
    expect(answer.body.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(answer.body.$id).toBe('https://containerops.io/schemas/workflow/v1');
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(answer.body);
    const hello = parseYaml(HELLO_DATA);
    expect(validate(hello)).toBe(true);
    expect(validate({ ...hello, metadata: { ...hello.metadata, owner: 'me' } })).toBe(false);
    expect(validate({ ...hello, kind: 'Pipeline' })).toBe(false);
  });

  describe('reading', () => {
    it('lists workflows filtered by project and name, paginated with page, pageSize and total', async () => {
      for (const name of ['list-e', 'list-c', 'list-a', 'list-d', 'list-b']) await create(inProject('listing/alpha', name));
      await create(inProject('listing/beta', 'list-a'));

      const first = await listed('project=listing/alpha&pageSize=2');
      expect(first).toMatchObject({ page: 1, pageSize: 2, total: 5 });
      expect(first.items.map((item) => item.name)).toEqual(['list-a', 'list-b']);
      expect(first.items[0]).toMatchObject({ project: 'listing/alpha', revision: 1, active: true });
      expect(first.items[0].id).toMatch(/^[0-9a-f-]{36}$/);
      const second = await listed('project=listing/alpha&pageSize=2&page=2');
      expect(second).toMatchObject({ page: 2, pageSize: 2, total: 5 });
      expect(second.items.map((item) => item.name)).toEqual(['list-c', 'list-d']);
      const third = await listed('project=listing/alpha&pageSize=2&page=3');
      expect(third.items.map((item) => item.name)).toEqual(['list-e']);
      const beyond = await listed('project=listing/alpha&pageSize=2&page=4');
      expect(beyond).toMatchObject({ items: [], total: 5 });
      // Far past the end is just as empty (the offset no longer fits an exact integer).
      for (const page of ['9007199254740993', '99999999999999999999']) {
        const far = await call(base, 'GET', `/api/v1/workflows?project=listing/alpha&page=${page}`);
        expect([far.status, far.body.items, far.body.total]).toEqual([200, [], 5]);
      }

      const byName = await listed('project=listing/alpha&name=list-c');
      expect(byName.total).toBe(1);
      expect(byName.items.map((item) => [item.project, item.name])).toEqual([['listing/alpha', 'list-c']]);
      const acrossProjects = await listed('name=list-a');
      expect(acrossProjects.items.map((item) => item.project).sort()).toEqual(['listing/alpha', 'listing/beta']);
      expect((await listed('project=listing/beta')).items.map((item) => item.name)).toEqual(['list-a']);
      // LIKE wildcards in the filter are taken literally.
      expect((await listed('project=listing/alpha&name=list_a')).total).toBe(0);
      expect((await listed('project=listing/alpha&name=%25')).total).toBe(0);

      const everything = await listed('project=listing/alpha');
      expect(everything).toMatchObject({ page: 1, pageSize: 20, total: 5 });

      for (const query of ['page=0', 'pageSize=101', 'pageSize=abc', 'project=nope', 'sort=name']) {
        const answer = await call(base, 'GET', `/api/v1/workflows?${query}`);
        expect(answer.status).toBe(400);
      }
    });

    it('answers unknown ids with 404 WORKFLOW.NOT_FOUND on every route, and malformed ids with 404 too', async () => {
      const ids = [randomUUID(), 'not-an-id', '12345', 'x'.repeat(300), encodeURIComponent(`${randomUUID()}/../x`), randomUUID().toUpperCase()];
      for (const id of ids) {
        const attempts: Array<[string, string, unknown?]> = [
          ['GET', `/api/v1/workflows/${id}`],
          ['PUT', `/api/v1/workflows/${id}`, quick('whatever')],
          ['GET', `/api/v1/workflows/${id}/revisions`],
          ['POST', `/api/v1/workflows/${id}/copy`, { name: 'whatever' }],
          ['POST', `/api/v1/workflows/${id}/activate`],
          ['POST', `/api/v1/workflows/${id}/deactivate`],
          ['DELETE', `/api/v1/workflows/${id}`],
          ['DELETE', `/api/v1/workflows/${id}?force=true`],
          ['POST', `/api/v1/workflows/${id}/runs`, {}],
          ['GET', `/api/v1/workflows/${id}/runs`],
        ];
        for (const [method, path, body] of attempts) {
          const answer = await call(base, method, path, body);
          expect([method, path, answer.status, answer.body?.error?.code]).toEqual([method, path, 404, 'WORKFLOW.NOT_FOUND']);
        }
      }
    });
  });

  describe('changing', () => {
    it('saves each update as a new revision and keeps all of them, in order, with their definitions', async () => {
      const say = (word: string) => [{ name: 'only', actions: [sh('say', `echo ${word}`)] }];
      const created = await create(workflow('revised', say('one')));
      const second = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, workflow('revised', say('two')));
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ id: created.id, revision: 2 });
      const yamlThird = `apiVersion: containerops.io/v1
kind: Workflow
metadata:
  name: revised
  project: default/admin
spec:
  timeout: 5m
  stages:
    - name: only
      actions:
        - name: say
          image: ${BUSYBOX}
          command: ["sh", "-c", "echo three"]
`;
      const third = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, yamlThird, 'application/yaml');
      expect(third.status).toBe(200);
      expect(third.body.revision).toBe(3);

      const got = await call(base, 'GET', `/api/v1/workflows/${created.id}`);
      expect(got.body).toMatchObject({ revision: 3, name: 'revised' });
      expect(got.body.definition.spec.timeout).toBe('5m');
      expect(got.body.definition.spec.stages[0].actions[0].command).toEqual(['sh', '-c', 'echo three']);

      const revisions = await call(base, 'GET', `/api/v1/workflows/${created.id}/revisions`);
      expect(revisions.status).toBe(200);
      expect(revisions.body.map((revision: any) => revision.revision)).toEqual([1, 2, 3]);
      expect(revisions.body.map((revision: any) => revision.definition.spec.stages[0].actions[0].command[2])).toEqual(['echo one', 'echo two', 'echo three']);
      expect(revisions.body.every((revision: any) => !Number.isNaN(Date.parse(revision.createdAt)))).toBe(true);

      const inList = await listed('project=default/admin&name=revised');
      expect(inList.items).toEqual([expect.objectContaining({ id: created.id, revision: 3, createdAt: got.body.createdAt, updatedAt: got.body.updatedAt })]);
      expect(Date.parse(got.body.updatedAt)).toBeGreaterThan(Date.parse(got.body.createdAt));
    });

    it('refuses an update that changes the name or the project (400), or an invalid one, keeping the workflow as it was', async () => {
      const created = await create(quick('fixed-identity'));
      const renamed = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, quick('another-name'));
      expect(renamed.status).toBe(400);
      expect(renamed.body.error.code).toBe('WORKFLOW.IDENTITY_CHANGED');
      const moved = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, inProject('other/place', 'fixed-identity'));
      expect(moved.status).toBe(400);
      expect(moved.body.error.code).toBe('WORKFLOW.IDENTITY_CHANGED');
      const invalid = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, workflow('fixed-identity', [{ name: 'only', actions: [sh('say', 'echo', { timeout: '0s' })] }]));
      expect(invalid.status).toBe(400);
      expect(invalid.body.error.code).toBe('WORKFLOW.INVALID');
      expect(invalid.body.error.details.issues).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].timeout', code: 'WORKFLOW.INVALID_DURATION' })]);
      const unparsable = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, 'spec: [', 'application/yaml');
      expect(unparsable.status).toBe(400);
      expect(unparsable.body.error.code).toBe('WORKFLOW.PARSE_ERROR');
      const wrongType = await call(base, 'PUT', `/api/v1/workflows/${created.id}`, JSON.stringify(quick('fixed-identity')), 'text/plain');
      expect(wrongType.status).toBe(415);

      const got = await call(base, 'GET', `/api/v1/workflows/${created.id}`);
      expect(got.body).toMatchObject({ revision: 1, name: 'fixed-identity', project: 'default/admin' });
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}/revisions`)).body).toHaveLength(1);
      // The names it tried to take are still free.
      expect((await listed('name=another-name')).total).toBe(0);
      await create(quick('another-name'));
      await create(inProject('other/place', 'fixed-identity'));
    });

    it('copies a workflow: stages, tasks and timeout under a new name; 409 WORKFLOW.NAME_TAKEN when the name is taken', async () => {
      const stages = [
        { name: 'build', actions: [sh('compile', 'echo compile', { outputs: ['artifact'] })] },
        { name: 'check', sequencing: 'parallel', actions: [sh('lint', 'echo lint', { timeout: '30s' }), sh('unit', 'echo unit')] },
      ];
      const source = await create(workflow('copy-source', stages, { timeout: '15m', params: { level: 'fast' } }));
      await call(base, 'PUT', `/api/v1/workflows/${source.id}`, workflow('copy-source', stages, { timeout: '20m', params: { level: 'fast' } }));

      const copied = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, { name: 'copy-target' });
      expect(copied.status).toBe(201);
      expect(copied.body).toMatchObject({ name: 'copy-target', project: 'default/admin', revision: 1, active: true, copiedFrom: source.id });
      expect(copied.body.id).not.toBe(source.id);
      const original = (await call(base, 'GET', `/api/v1/workflows/${source.id}`)).body;
      const copy = (await call(base, 'GET', `/api/v1/workflows/${copied.body.id}`)).body;
      expect(copy.definition.spec.stages).toEqual(original.definition.spec.stages);
      expect(copy.definition.spec.stages.map((stage: any) => stage.actions.map((a: any) => a.name))).toEqual([['compile'], ['lint', 'unit']]);
      expect(copy.definition.spec.timeout).toBe('20m');
      expect(copy.definition.metadata).toMatchObject({ name: 'copy-target', project: 'default/admin' });
      expect(original.definition.metadata.name).toBe('copy-source');
      const run = await finishedRun(base, (await runOf(copied.body.id)).id);
      expect(run.status).toBe('succeeded');

      const taken = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, { name: 'copy-target' });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe('WORKFLOW.NAME_TAKEN');
      const itself = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, { name: 'copy-source' });
      expect(itself.status).toBe(409);
      expect(itself.body.error.code).toBe('WORKFLOW.NAME_TAKEN');

      const elsewhere = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, { name: 'copy-source', project: 'other/copies' });
      expect(elsewhere.status).toBe(201);
      expect(elsewhere.body).toMatchObject({ name: 'copy-source', project: 'other/copies' });

      for (const body of [{ name: 'Bad Name' }, {}, { name: 'fine', project: 'nope' }, { name: 'fine', extra: true }]) {
        const refused = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, body);
        expect(refused.status).toBe(400);
      }
      expect((await listed('name=fine')).total).toBe(0);
    });

    it('deactivates (runs refused with 409 WORKFLOW.INACTIVE) and activates again', async () => {
      const created = await create(quick('switchable'));
      const off = await call(base, 'POST', `/api/v1/workflows/${created.id}/deactivate`);
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({ id: created.id, active: false });
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}`)).body.active).toBe(false);
      expect((await listed('project=default/admin&name=switchable')).items[0].active).toBe(false);

      const refused = await call(base, 'POST', `/api/v1/workflows/${created.id}/runs`, {});
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('WORKFLOW.INACTIVE');
      expect(refused.body.error.message).toMatch(/activate/);
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}/runs`)).body.items).toEqual([]);
      // Deactivating twice is fine.
      expect((await call(base, 'POST', `/api/v1/workflows/${created.id}/deactivate`)).body.active).toBe(false);

      const on = await call(base, 'POST', `/api/v1/workflows/${created.id}/activate`);
      expect(on.status).toBe(200);
      expect(on.body.active).toBe(true);
      expect((await listed('project=default/admin&name=switchable')).items[0].active).toBe(true);
      const run = await runOf(created.id);
      expect(run.number).toBe(1);
      expect((await finishedRun(base, run.id)).status).toBe('succeeded');

      // A rerun is a run too.
      await call(base, 'POST', `/api/v1/workflows/${created.id}/deactivate`);
      const rerun = await call(base, 'POST', `/api/v1/runs/${run.id}/rerun`);
      expect(rerun.status).toBe(409);
      expect(rerun.body.error.code).toBe('WORKFLOW.INACTIVE');
    });

    it('deletes: 409 WORKFLOW.RUN_ACTIVE while a run is active; ?force=true stops it first; then 404 and the name is free', async () => {
      const created = await create(workflow('doomed', [{ name: 'only', actions: [sh('wait', 'sleep 60')] }]));
      const { id: runId } = await runOf(created.id);
      await runStatus(base, runId, (run) => action(run, 'only', 'wait').status === 'running', 'the task to run');

      const refused = await call(base, 'DELETE', `/api/v1/workflows/${created.id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('WORKFLOW.RUN_ACTIVE');
      expect(refused.body.error.details.runs).toEqual([runId]);
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}`)).status).toBe(200);
      expect((await call(base, 'GET', `/api/v1/runs/${runId}`)).body.status).toBe('running');

      const forced = await call(base, 'DELETE', `/api/v1/workflows/${created.id}?force=true`);
      expect(forced.status).toBe(204);
      const run = await finishedRun(base, runId);
      expect(run.status).toBe('stopped');
      expect(action(run, 'only', 'wait').status).toBe('stopped');

      for (const path of [`/api/v1/workflows/${created.id}`, `/api/v1/workflows/${created.id}/revisions`]) {
        const gone = await call(base, 'GET', path);
        expect(gone.status).toBe(404);
        expect(gone.body.error.code).toBe('WORKFLOW.NOT_FOUND');
      }
      expect((await call(base, 'POST', `/api/v1/workflows/${created.id}/runs`, {})).status).toBe(404);
      expect((await call(base, 'DELETE', `/api/v1/workflows/${created.id}`)).status).toBe(404);
      expect((await listed('name=doomed')).total).toBe(0);

      const reborn = await create(workflow('doomed', [{ name: 'only', actions: [sh('say', 'echo again')] }]));
      expect(reborn.id).not.toBe(created.id);
      expect(reborn.revision).toBe(1);
      expect((await listed('name=doomed')).items.map((item) => item.id)).toEqual([reborn.id]);
      expect((await finishedRun(base, (await runOf(reborn.id)).id)).status).toBe('succeeded');
    });

    it('deletes an idle workflow without force, and its name can be copied to', async () => {
      const created = await create(quick('idle-delete'));
      await finishedRun(base, (await runOf(created.id)).id);
      expect((await call(base, 'DELETE', `/api/v1/workflows/${created.id}`)).status).toBe(204);
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}`)).status).toBe(404);
      const source = await create(quick('idle-source'));
      const copied = await call(base, 'POST', `/api/v1/workflows/${source.id}/copy`, { name: 'idle-delete' });
      expect(copied.status).toBe(201);
    });
  });

  describe('running with parameters', () => {
    const paramsWorkflow = (name: string) =>
      workflow(
        name,
        [
          {
            name: 'only',
            actions: [
              sh('greet', "echo '[COUT] greeting = ${params.greeting}'; echo '[COUT] build = ${BUILD_ID}'", { outputs: ['greeting', 'build'] }),
            ],
          },
        ],
        { params: { greeting: 'hello' } },
      );

    it('refuses undeclared or ill-typed params with 400 RUN.INVALID_PARAMS, starting nothing', async () => {
      const created = await create(paramsWorkflow('params-refused'));
      const undeclared = await call(base, 'POST', `/api/v1/workflows/${created.id}/runs`, { params: { farewell: 'bye' } });
      expect(undeclared.status).toBe(400);
      expect(undeclared.body.error.code).toBe('RUN.INVALID_PARAMS');
      expect(undeclared.body.error.message).toContain('farewell');
      const typed = await call(base, 'POST', `/api/v1/workflows/${created.id}/runs`, { params: { greeting: { nested: true } } });
      expect(typed.status).toBe(400);
      expect(typed.body.error.code).toBe('RUN.INVALID_PARAMS');
      const notAnObject = await call(base, 'POST', `/api/v1/workflows/${created.id}/runs`, { params: 'greeting=hi' });
      expect(notAnObject.status).toBe(400);
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}/runs`)).body.items).toEqual([]);
      expect((await runOf(created.id)).number).toBe(1);
    });

    it('overrides declared params for one run, falls back to the defaults otherwise, and resolves ${BUILD_ID} to the run number', async () => {
      const created = await create(paramsWorkflow('params-used'));
      const overridden = await finishedRun(base, (await runOf(created.id, { greeting: 'bonjour' })).id);
      expect(overridden).toMatchObject({ status: 'succeeded', number: 1, params: { greeting: 'bonjour' } });
      expect(action(overridden, 'only', 'greet').outputs).toEqual({ greeting: 'bonjour', build: '1' });

      const defaults = await finishedRun(base, (await runOf(created.id)).id);
      expect(defaults).toMatchObject({ status: 'succeeded', number: 2, params: { greeting: 'hello' } });
      expect(action(defaults, 'only', 'greet').outputs).toEqual({ greeting: 'hello', build: '2' });
    });
  });

  describe('body size', () => {
    it('answers a document bigger than the body limit with 413 REQUEST.TOO_LARGE, creating nothing', async () => {
      const limit = pilotage.service.runtime.config.bodyLimitBytes;
      expect(limit).toBeGreaterThan(0);
      const filler = 'x'.repeat(limit + 1024);
      const bigYaml = `${HELLO_DATA.replace('name: hello-data', 'name: too-big')}  # ${filler}\n`;
      const yamlAnswer = await call(base, 'POST', '/api/v1/workflows', bigYaml, 'application/yaml');
      expect(yamlAnswer.status).toBe(413);
      expect(yamlAnswer.body.error.code).toBe('REQUEST.TOO_LARGE');
      expect(yamlAnswer.body.error.details.limitBytes).toBe(limit);
      expect(yamlAnswer.body.error.message).toContain(String(limit));

      const bigJson = { ...quick('too-big'), metadata: { name: 'too-big', project: 'default/admin', description: filler } };
      const jsonAnswer = await call(base, 'POST', '/api/v1/workflows', bigJson);
      expect(jsonAnswer.status).toBe(413);
      expect(jsonAnswer.body.error.code).toBe('REQUEST.TOO_LARGE');

      const existing = await create(quick('stays-small'));
      const bigUpdate = await call(base, 'PUT', `/api/v1/workflows/${existing.id}`, { ...quick('stays-small'), metadata: { name: 'stays-small', project: 'default/admin', description: filler } });
      expect(bigUpdate.status).toBe(413);
      expect((await call(base, 'GET', `/api/v1/workflows/${existing.id}`)).body.revision).toBe(1);

      expect((await listed('name=too-big')).total).toBe(0);
      await create(quick('too-big'));
    });

    it('refuses with 413 WORKFLOW.TOO_LARGE a workflow that would expand past what can be saved, leaving the name free', async () => {
      // 20 kB of text, but 60 aliases of one anchor make it 1.2 MB once read.
      const anchor = 'y'.repeat(20_000);
      const aliases = Array.from({ length: 60 }, (_, i) => `            k${i}: *big`).join('\n');
      const expanding = `apiVersion: containerops.io/v1
kind: Workflow
metadata:
  name: alias-heavy
  project: default/admin
spec:
  stages:
    - name: only
      actions:
        - name: a
          image: ${BUSYBOX}
          inputs:
            k: &big ${anchor}
${aliases}
`;
      expect(expanding.length).toBeLessThan(pilotage.service.runtime.config.bodyLimitBytes);
      const answer = await call(base, 'POST', '/api/v1/workflows', expanding, 'application/yaml');
      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toBe('WORKFLOW.TOO_LARGE');
      expect(answer.body.error.details.limitBytes).toBe(WORKFLOW_MAX_BYTES);
      expect((await listed('name=alias-heavy')).total).toBe(0);
      await create(quick('alias-heavy'));
    });

    it('saves a workflow just under the limit and can run it; one over is refused when saved, not when run', async () => {
      const sized = (name: string, bytes: number) => {
        const document = workflow(name, [{ name: 'only', actions: [sh('say', 'echo hi')] }], { params: { blob: '' } });
        const padding = bytes - Buffer.byteLength(JSON.stringify(document)) - 64;
        return workflow(name, [{ name: 'only', actions: [sh('say', 'echo hi')] }], { params: { blob: 'p'.repeat(padding) } });
      };
      // Under the body limit and under the event store's limit for one event, but a run would record it twice over.
      const over = sized('over-limit', 600 * 1024);
      expect(Buffer.byteLength(JSON.stringify(over))).toBeLessThan(pilotage.service.runtime.config.bodyLimitBytes);
      const refused = await call(base, 'POST', '/api/v1/workflows', over);
      expect(refused.status).toBe(413);
      expect(refused.body.error.code).toBe('WORKFLOW.TOO_LARGE');
      expect(refused.body.error.details.limitBytes).toBe(WORKFLOW_MAX_BYTES);
      expect(refused.body.error.message).toContain(`at most ${WORKFLOW_MAX_BYTES} bytes`);
      expect((await listed('name=over-limit')).total).toBe(0);

      const under = await create(sized('under-limit', WORKFLOW_MAX_BYTES));
      const run = await finishedRun(base, (await runOf(under.id)).id);
      expect(run.status).toBe('succeeded');
      const bigger = await call(base, 'PUT', `/api/v1/workflows/${under.id}`, sized('under-limit', 600 * 1024));
      expect(bigger.status).toBe(413);
      expect((await call(base, 'GET', `/api/v1/workflows/${under.id}`)).body.revision).toBe(1);
    });
  });

  describe('interrupted writes', () => {
    it('gives the name back when the workflow cannot be recorded after its name was claimed', async () => {
      const store = pilotage.service.runtime.store;
      const original = store.append.bind(store);
      const spy = jest.spyOn(store, 'append').mockImplementation(async (streamId, ...rest) => {
        if (streamId.startsWith('workflow-')) throw new Error('the disk is full');
        return original(streamId, ...rest);
      });
      try {
        const failed = await call(base, 'POST', '/api/v1/workflows', quick('unlucky'));
        expect(failed.status).toBe(500);
        expect(failed.body.error.code).toBe('INTERNAL');
      } finally {
        spy.mockRestore();
      }
      expect((await listed('name=unlucky')).total).toBe(0);
      const created = await create(quick('unlucky'));
      expect(created.name).toBe('unlucky');
    });

    it('frees the name of a deleted workflow even when the delete stopped before releasing it', async () => {
      const created = await create(quick('half-deleted'));
      // What a delete that died between its two appends leaves: the workflow deleted, its name still claimed.
      await pilotage.service.runtime.store.append(`workflow-${created.id}`, 1, [{ type: 'WorkflowDeleted', data: {} }]);
      expect((await call(base, 'GET', `/api/v1/workflows/${created.id}`)).status).toBe(404);
      const again = await create(quick('half-deleted'));
      expect(again.id).not.toBe(created.id);
      const copied = await call(base, 'POST', `/api/v1/workflows/${again.id}/copy`, { name: 'half-deleted' });
      expect(copied.status).toBe(409);
    });
  });
});
