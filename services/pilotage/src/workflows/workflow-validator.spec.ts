import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ValidationIssue, WorkflowDocument } from './workflow-definition';
import { parseWorkflowText } from './workflow-parser';
import {
  effectiveInputs,
  formatPath,
  MAX_DOCUMENT_DEPTH,
  MAX_INPUT_DEPTH,
  MAX_ISSUES,
  validateWorkflow,
  WorkflowIssueCodes as C,
} from './workflow-validator';

const HELLO_DATA = readFileSync(path.join(__dirname, '../../test/fixtures/hello-data.yaml'), 'utf8');

type Doc = Record<string, unknown> & { spec: Record<string, unknown> };

function workflow(stages: unknown, spec: Record<string, unknown> = {}): Doc {
  return { apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name: 'w', project: 'org/proj' }, spec: { ...spec, stages } };
}
const action = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: 'busybox', ...extra });
const stage = (name: string, actions: unknown[], extra: Record<string, unknown> = {}) => ({ name, actions, ...extra });

/** Two stages: `a` (x and y, both declaring output k) and `b` (z). */
const twoStages = (a: Record<string, unknown> = {}, z: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) =>
  workflow([stage('a', [action('x', { outputs: ['k'] }), action('y', { outputs: ['k'] })], a), stage('b', [action('z', z)])], spec);

function issuesOf(doc: unknown): ValidationIssue[] {
  const result = validateWorkflow(doc);
  if (result.ok) throw new Error('expected the document to be rejected');
  return result.issues;
}
const pairs = (doc: unknown) => issuesOf(doc).map(({ path, code }) => [path, code]);
function accepted(doc: unknown): WorkflowDocument {
  const result = validateWorkflow(doc);
  if (!result.ok) throw new Error(`expected the document to be accepted: ${JSON.stringify(result.issues, null, 2)}`);
  return result.workflow;
}

describe('validateWorkflow: the hello-data example', () => {
  it('accepts the YAML example as written and normalizes it', () => {
    const normalized = accepted(parseWorkflowText(HELLO_DATA, 'yaml'));
    const [produce, consume] = normalized.spec.stages;
    expect(produce.sequencing).toBe('parallel');
    expect(consume.sequencing).toBe('sequence');
    expect(consume.actions[0].inputs).toEqual({ a: '${stages.produce.left.outputs.word}', b: '${stages.produce.right.outputs.word}' });
    expect(consume.actions[0].command?.[2]).toBe(`echo "$CO_DATA" | grep -q hello && echo '[COUT] joined = hello-world'`);
    expect(normalized.spec).not.toHaveProperty('links');
  });

  it('accepts the same document as JSON', () => {
    const json = JSON.stringify(parseWorkflowText(HELLO_DATA, 'yaml'));
    expect(accepted(parseWorkflowText(json, 'json')).metadata).toEqual({ name: 'hello-data', project: 'default/admin' });
  });

  it('accepts its own normalized output unchanged', () => {
    const normalized = accepted(parseWorkflowText(HELLO_DATA, 'yaml'));
    expect(accepted(normalized)).toEqual(normalized);
  });

  it('does not change the document it is given', () => {
    const doc = twoStages({}, { inputs: {} }, { links: [{ from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.v' }] });
    const before = structuredClone(doc);
    accepted(doc);
    expect(doc).toEqual(before);
  });
});

describe('validateWorkflow: normalization', () => {
  it('fills defaults: sequencing, pullPolicy for images, retry backoff, empty lists', () => {
    const normalized = accepted(
      workflow([
        stage('s', [action('img', { retries: { limit: 2 } }), { name: 'comp', component: 'acme/build@1.2.0' }]),
        { name: 'empty' },
      ]),
    );
    const [s, empty] = normalized.spec.stages;
    expect(s.sequencing).toBe('sequence');
    expect(s.actions[0]).toEqual({ name: 'img', image: 'busybox', pullPolicy: 'IfNotPresent', retries: { limit: 2, backoff: '10s' } });
    expect(s.actions[1]).toEqual({ name: 'comp', component: 'acme/build@1.2.0' });
    expect(empty).toEqual({ name: 'empty', sequencing: 'sequence', actions: [] });
  });

  it('gives a spec without stages an empty list', () => {
    expect(accepted({ ...workflow([]), spec: {} }).spec.stages).toEqual([]);
  });

  it('folds links into the inputs of their targets', () => {
    const doc = twoStages(
      {},
      { inputs: { keep: 1 } },
      {
        links: [
          { from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.v' },
          { from: '${stages.a.y.outputs.k}', to: 'stages.b.z.inputs.w' },
        ],
      },
    );
    const normalized = accepted(doc);
    expect(normalized.spec.stages[1].actions[0].inputs).toEqual({ keep: 1, v: '${stages.a.x.outputs.k}', w: '${stages.a.y.outputs.k}' });
    expect(normalized.spec).not.toHaveProperty('links');
    expect(effectiveInputs(doc as unknown as WorkflowDocument)).toEqual(
      new Map([
        ['a.x', {}],
        ['a.y', {}],
        ['b.z', { keep: 1, v: '${stages.a.x.outputs.k}', w: '${stages.a.y.outputs.k}' }],
      ]),
    );
  });

  it('keeps a __proto__ input as data, inline or written by a link', () => {
    const inline = twoStages({}, { inputs: JSON.parse('{"__proto__": "${BUILD_ID}"}') as unknown });
    const inputs = accepted(inline).spec.stages[1].actions[0].inputs!;
    expect(Object.getOwnPropertyDescriptor(inputs, '__proto__')?.value).toBe('${BUILD_ID}');

    const linked = twoStages({}, {}, { links: [{ from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.__proto__' }] });
    const written = accepted(linked).spec.stages[1].actions[0].inputs!;
    expect(Object.getPrototypeOf(written)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(written, '__proto__')?.value).toBe('${stages.a.x.outputs.k}');
  });
});

describe('validateWorkflow: schema rules', () => {
  it('rejects unknown fields everywhere, suggesting the field that was meant', () => {
    const doc = workflow(
      [stage('s', [action('a', { imgae: 'x', retries: { limit: 1, wait: '1s' }, resources: { gpu: 1 } })], { when: 'always' })],
      {
        links: [{ from: 'stages.s.a.outputs.k', to: 'stages.s.a.inputs.k', note: 'x' }],
      },
    );
    doc.extra = true;
    (doc.metadata as Record<string, unknown>).owner = 'me';
    expect(pairs(doc)).toEqual(
      expect.arrayContaining([
        ['$.extra', C.UNKNOWN_FIELD],
        ['$.metadata.owner', C.UNKNOWN_FIELD],
        ['$.spec.stages[0].when', C.UNKNOWN_FIELD],
        ['$.spec.stages[0].actions[0].imgae', C.UNKNOWN_FIELD],
        ['$.spec.stages[0].actions[0].retries.wait', C.UNKNOWN_FIELD],
        ['$.spec.stages[0].actions[0].resources.gpu', C.UNKNOWN_FIELD],
        ['$.spec.links[0].note', C.UNKNOWN_FIELD],
      ]),
    );
    const typo = issuesOf(doc).find((issue) => issue.path === '$.spec.stages[0].actions[0].imgae');
    expect(typo?.message).toMatch(/^Unknown field "imgae"\. Did you mean "image"\? Remove it or use one of: name, image, pullPolicy, /);
  });

  it('reports missing required fields at the field', () => {
    const doc = workflow([stage('s', [{ image: 'busybox' }])]);
    delete doc.apiVersion;
    doc.metadata = { name: 'w' };
    expect(pairs(doc)).toEqual([
      ['$.apiVersion', C.MISSING_FIELD],
      ['$.metadata.project', C.MISSING_FIELD],
      ['$.spec.stages[0].actions[0].name', C.MISSING_FIELD],
    ]);
    expect(issuesOf(doc)[0].message).toBe('Missing required field "apiVersion"; add it.');
  });

  it('reports wrong types', () => {
    const doc = workflow([stage('s', [action('a', { command: 'echo hi', env: { N: 1 } })])], { concurrency: '3', params: { p: null } });
    expect(pairs(doc)).toEqual([
      ['$.spec.params.p', C.WRONG_TYPE],
      ['$.spec.concurrency', C.WRONG_TYPE],
      ['$.spec.stages[0].actions[0].command', C.WRONG_TYPE],
      ['$.spec.stages[0].actions[0].env.N', C.WRONG_TYPE],
    ]);
    expect(issuesOf(doc)[0].message).toBe('This value must be a string, a number or a boolean, not null.');
    expect(issuesOf(doc)[1].message).toBe('This value must be an integer, not a string.');
  });

  it.each([null, [], 'workflow', 42, true])('rejects the document %j as a whole', (doc) => {
    expect(issuesOf(doc)).toEqual([
      { path: '$', code: C.WRONG_TYPE, message: expect.stringMatching(/^The workflow document must be an object, not /) },
    ]);
  });

  it('rejects fixed values and enumerations that do not match', () => {
    const doc = workflow([stage('s', [action('a', { pullPolicy: 'Sometimes' })], { sequencing: 'serial' })]);
    doc.apiVersion = 'containerops.io/v2';
    doc.kind = 'Pipeline';
    expect(pairs(doc)).toEqual([
      ['$.apiVersion', C.INVALID_VALUE],
      ['$.kind', C.INVALID_VALUE],
      ['$.spec.stages[0].sequencing', C.INVALID_VALUE],
      ['$.spec.stages[0].actions[0].pullPolicy', C.INVALID_VALUE],
    ]);
    expect(issuesOf(doc)[2].message).toBe('Must be one of "sequence", "parallel", not "serial".');
  });

  it('rejects numbers out of range', () => {
    expect(pairs(workflow([], { concurrency: 0 }))).toEqual([['$.spec.concurrency', C.OUT_OF_RANGE]]);
    expect(issuesOf(workflow([], { concurrency: 101 }))[0].message).toBe('Must be from 1 to 100, not 101.');
    expect(pairs(workflow([stage('s', [action('a', { retries: { limit: 11 } })])]))).toEqual([
      ['$.spec.stages[0].actions[0].retries.limit', C.OUT_OF_RANGE],
    ]);
  });

  it('rejects bad names', () => {
    const doc = workflow(
      [stage('a.b', [action('1st', { outputs: ['my-key'], env: { 'A B': 'x' } })]), stage('ok', [action(`x${'y'.repeat(63)}`)])],
      { params: { 'my-param': 1 } },
    );
    doc.metadata = { name: 'Hello_World', project: 'admin', labels: { 'bad key!': 'v', 'app.kubernetes.io/name': 'ok' } };
    expect(pairs(doc)).toEqual([
      ['$.metadata.name', C.INVALID_NAME],
      ['$.metadata.project', C.INVALID_NAME],
      ["$.metadata.labels['bad key!']", C.INVALID_NAME],
      ["$.spec.params['my-param']", C.INVALID_NAME],
      ['$.spec.stages[0].name', C.INVALID_NAME],
      ['$.spec.stages[0].actions[0].name', C.INVALID_NAME],
      ["$.spec.stages[0].actions[0].env['A B']", C.INVALID_NAME],
      ['$.spec.stages[0].actions[0].outputs[0]', C.INVALID_NAME],
      ['$.spec.stages[1].actions[0].name', C.INVALID_NAME],
    ]);
    expect(issuesOf(doc)[4].message).toBe(
      '"a.b" is not a valid name: start with a letter and use only letters, digits, "_" and "-" (no dots), at most 63 characters.',
    );
  });

  it('limits stages, actions and description length', () => {
    const many = (n: number, make: (i: number) => unknown) => Array.from({ length: n }, (_, i) => make(i));
    expect(pairs(workflow(many(51, (i) => stage(`s${i}`, []))))).toEqual([['$.spec.stages', C.LIMIT_EXCEEDED]]);
    expect(issuesOf(workflow(many(51, (i) => stage(`s${i}`, []))))[0].message).toBe('Too many items: 51; at most 50 are allowed.');
    expect(
      pairs(
        workflow([
          stage(
            's',
            many(51, (i) => action(`a${i}`)),
          ),
        ]),
      ),
    ).toEqual([['$.spec.stages[0].actions', C.LIMIT_EXCEEDED]]);
    expect(
      accepted(
        workflow(
          many(50, (i) =>
            stage(
              `s${i}`,
              many(50, (j) => action(`a${j}`)),
            ),
          ),
        ),
      ),
    ).toBeDefined();
    const long = workflow([]);
    long.metadata = { name: 'w', project: 'o/p', description: 'x'.repeat(1001) };
    expect(pairs(long)).toEqual([['$.metadata.description', C.LIMIT_EXCEEDED]]);
  });

  it('requires an absolute working directory and an image without spaces', () => {
    expect(pairs(workflow([stage('s', [action('a', { workingDir: 'src', image: 'busy box' })])]))).toEqual([
      ['$.spec.stages[0].actions[0].image', C.INVALID_VALUE],
      ['$.spec.stages[0].actions[0].workingDir', C.INVALID_VALUE],
    ]);
  });
});

describe('validateWorkflow: names and actions', () => {
  it('rejects duplicate stage names', () => {
    const issues = issuesOf(workflow([stage('build', []), stage('test', []), stage('build', [])]));
    expect(issues).toEqual([
      {
        path: '$.spec.stages[2].name',
        code: C.DUPLICATE_STAGE,
        message: 'Stage name "build" is already used by stages[0]; give each stage its own name.',
      },
    ]);
  });

  it('rejects duplicate action names within a stage, not across stages', () => {
    expect(pairs(workflow([stage('s', [action('a'), action('a')]), stage('t', [action('a')])]))).toEqual([
      ['$.spec.stages[0].actions[1].name', C.DUPLICATE_ACTION],
    ]);
  });

  it('rejects an output declared twice', () => {
    expect(pairs(workflow([stage('s', [action('a', { outputs: ['k', 'v', 'k'] })])]))).toEqual([
      ['$.spec.stages[0].actions[0].outputs[2]', C.DUPLICATE_OUTPUT],
    ]);
  });

  it('requires exactly one of image and component', () => {
    const issues = issuesOf(workflow([stage('s', [{ name: 'both', image: 'busybox', component: 'acme/x@1' }, { name: 'neither' }])]));
    expect(issues).toEqual([
      {
        path: '$.spec.stages[0].actions[0]',
        code: C.IMAGE_XOR_COMPONENT,
        message: 'Action "both" has both "image" and "component"; keep only one.',
      },
      {
        path: '$.spec.stages[0].actions[1]',
        code: C.IMAGE_XOR_COMPONENT,
        message: 'Action "neither" has neither "image" nor "component"; add one of them.',
      },
    ]);
  });

  it('rejects pullPolicy on a component action (command, args and env are overrides nucleus checks)', () => {
    expect(pairs(workflow([stage('s', [{ name: 'c', component: 'acme/x@1', pullPolicy: 'Always', command: ['sh'], args: [] }])]))).toEqual([
      ['$.spec.stages[0].actions[0].pullPolicy', C.IMAGE_OPTION_WITH_COMPONENT],
    ]);
    expect(accepted(workflow([stage('s', [{ name: 'c', component: 'acme/x@1', command: ['sh', '-c', 'true'], args: ['x'], env: { A: 'b' } }])]))).toBeDefined();
  });

  it('leaves references to the outputs of a component action to nucleus, unless the action declares outputs', () => {
    const uses = (outputs?: string[]) =>
      workflow([
        stage('a', [{ name: 'c', component: 'acme/x@1', ...(outputs ? { outputs } : {}) }]),
        stage('b', [action('use', { inputs: { v: '${stages.a.c.outputs.greeting}' } })]),
      ]);
    expect(accepted(uses())).toBeDefined();
    expect(pairs(uses(['other']))).toEqual([['$.spec.stages[1].actions[0].inputs.v', C.UNDECLARED_OUTPUT]]);
  });

  it.each([
    'acme/go-build@1.4.2',
    'acme/lint@^2.1',
    'acme/test@>=1.0 <2 || 3.x',
    'a/b@1.2.3 - 2.0.0',
    'a/b@~1.2',
    'a/b@*',
    'a/b@1.2.3-beta.1+build.5',
    'a/b@v1',
  ])('accepts the component %s', (component) => expect(accepted(workflow([stage('s', [{ name: 'c', component }])]))).toBeDefined());

  it.each(['acme/go-build', 'go-build@1', 'acme/go-build@latest', 'Acme/x@1', 'acme/x@1..2', 'acme/x@', 'a/b/c@1', 'acme/x@1 ||'])(
    'rejects the component %s',
    (component) =>
      expect(pairs(workflow([stage('s', [{ name: 'c', component }])]))).toEqual([
        ['$.spec.stages[0].actions[0].component', C.INVALID_COMPONENT],
      ]),
  );
});

describe('validateWorkflow: durations and resources', () => {
  it('accepts durations as strings or seconds', () => {
    const doc = workflow([stage('s', [action('a', { timeout: 90, retries: { limit: 3, backoff: 0 } })], { timeout: '1h30m' })], {
      timeout: '14d',
    });
    expect(accepted(doc)).toBeDefined();
  });

  it('rejects invalid durations wherever they are', () => {
    const doc = workflow([stage('s', [action('a', { timeout: -1, retries: { limit: 1, backoff: '1x' } })], { timeout: '0s' })], {
      timeout: 'soon',
    });
    expect(pairs(doc)).toEqual([
      ['$.spec.timeout', C.INVALID_DURATION],
      ['$.spec.stages[0].actions[0].timeout', C.INVALID_DURATION],
      ['$.spec.stages[0].actions[0].retries.backoff', C.INVALID_DURATION],
      ['$.spec.stages[0].timeout', C.INVALID_DURATION],
    ]);
    expect(issuesOf(doc)[0].message).toBe(
      '"soon" is not a valid timeout: write a duration above zero such as "30s", "10m", "1h30m" or "500ms", or a number of seconds.',
    );
    expect(issuesOf(doc)[3].message).toBe('"0s" is not a valid timeout: it must be above zero.');
  });

  it('accepts CPU and memory quantities', () => {
    for (const resources of [
      { cpu: '500m', memory: '64Mi' },
      { cpu: '2', memory: '1Gi' },
      { cpu: 0.5, memory: '512M' },
      { memory: 268435456 },
    ]) {
      expect(accepted(workflow([stage('s', [action('a', { resources })])]))).toBeDefined();
    }
  });

  it('rejects invalid CPU and memory quantities', () => {
    const at = (resources: unknown) => pairs(workflow([stage('s', [action('a', { resources })])]));
    expect(at({ cpu: '500x', memory: '1GB' })).toEqual([
      ['$.spec.stages[0].actions[0].resources.cpu', C.INVALID_CPU],
      ['$.spec.stages[0].actions[0].resources.memory', C.INVALID_MEMORY],
    ]);
    // Schema issues come first, then the checks that parse the value ("0m" has the right form).
    expect(at({ cpu: '0m', memory: 1.5 })).toEqual([
      ['$.spec.stages[0].actions[0].resources.memory', C.INVALID_MEMORY],
      ['$.spec.stages[0].actions[0].resources.cpu', C.INVALID_CPU],
    ]);
    expect(at({ cpu: 0, memory: '0Mi' })).toEqual([
      ['$.spec.stages[0].actions[0].resources.cpu', C.INVALID_CPU],
      ['$.spec.stages[0].actions[0].resources.memory', C.INVALID_MEMORY],
    ]);
  });
});

describe('validateWorkflow: expressions and references', () => {
  it('accepts references to earlier stages, earlier actions of a sequential stage, params and BUILD_ID', () => {
    const doc = twoStages(
      {},
      { inputs: { deep: { list: ['${stages.a.x.outputs.k}', 1] } }, env: { V: '${params.version}' }, args: ['--build=${BUILD_ID}'] },
      { params: { version: '1.0' }, env: { BUILD: '${BUILD_ID}-${params.version}' } },
    );
    (doc.spec.stages as Array<{ actions: Array<Record<string, unknown>> }>)[0].actions[1].command = ['echo', '${stages.a.x.outputs.k}'];
    expect(accepted(doc)).toBeDefined();
  });

  it('rejects unknown expression syntax in inputs, env, command and args', () => {
    const doc = twoStages({}, { inputs: { a: '${foo}' }, env: { E: '${stages.a.x}' }, command: ['echo', '${params.x'], args: ['${}'] });
    expect(pairs(doc)).toEqual([
      ['$.spec.stages[1].actions[0].command[1]', C.UNKNOWN_EXPRESSION],
      ['$.spec.stages[1].actions[0].args[0]', C.UNKNOWN_EXPRESSION],
      ['$.spec.stages[1].actions[0].env.E', C.UNKNOWN_EXPRESSION],
      ['$.spec.stages[1].actions[0].inputs.a', C.UNKNOWN_EXPRESSION],
    ]);
    expect(issuesOf(doc)[3].message).toBe(
      'Unknown expression ${foo}; use ${BUILD_ID}, ${params.<name>}, ${stages.<stage>.<action>.outputs.<key>} or (in env values) ${{ secrets.<NAME> }}, or write $${ for a literal ${',
    );
  });

  it('rejects a reference to an unknown stage', () => {
    const issues = issuesOf(twoStages({}, { inputs: { a: '${stages.produce.x.outputs.k}' } }));
    expect(issues).toEqual([
      {
        path: '$.spec.stages[1].actions[0].inputs.a',
        code: C.UNKNOWN_STAGE,
        message: '${stages.produce.x.outputs.k} names stage "produce", which does not exist; stages are: "a", "b".',
      },
    ]);
  });

  it('rejects a reference to an unknown action', () => {
    expect(pairs(twoStages({}, { env: { A: 'v=${stages.a.w.outputs.k}' } }))).toEqual([
      ['$.spec.stages[1].actions[0].env.A', C.UNKNOWN_ACTION],
    ]);
  });

  it('rejects a reference to an undeclared output', () => {
    const issues = issuesOf(twoStages({}, { command: ['echo', '${stages.a.x.outputs.nope}'] }));
    expect(issues).toEqual([
      {
        path: '$.spec.stages[1].actions[0].command[1]',
        code: C.UNDECLARED_OUTPUT,
        message:
          '${stages.a.x.outputs.nope} names output "nope", which action a.x does not declare; add it to that action\'s outputs (declared: "k").',
      },
    ]);
  });

  it('rejects an unknown parameter, including names found on Object.prototype', () => {
    const doc = twoStages({}, { inputs: { a: '${params.missing}', b: '${params.constructor}' } }, { params: { known: 1 } });
    expect(pairs(doc)).toEqual([
      ['$.spec.stages[1].actions[0].inputs.a', C.UNKNOWN_PARAM],
      ['$.spec.stages[1].actions[0].inputs.b', C.UNKNOWN_PARAM],
    ]);
  });

  it('rejects a reference to a later stage', () => {
    const doc = workflow([
      stage('a', [action('x', { inputs: { v: '${stages.b.z.outputs.k}' } })]),
      stage('b', [action('z', { outputs: ['k'] })]),
    ]);
    expect(pairs(doc)).toEqual([['$.spec.stages[0].actions[0].inputs.v', C.FORWARD_REFERENCE]]);
  });

  it('rejects a reference of an action to itself', () => {
    expect(pairs(workflow([stage('a', [action('x', { outputs: ['k'], args: ['${stages.a.x.outputs.k}'] })])]))).toEqual([
      ['$.spec.stages[0].actions[0].args[0]', C.SELF_REFERENCE],
    ]);
  });

  it('rejects a reference to a later action of a sequential stage', () => {
    const doc = twoStages();
    (doc.spec.stages as Array<{ actions: Array<Record<string, unknown>> }>)[0].actions[0].inputs = { v: '${stages.a.y.outputs.k}' };
    expect(pairs(doc)).toEqual([['$.spec.stages[0].actions[0].inputs.v', C.FORWARD_REFERENCE]]);
  });

  it('rejects a reference to any sibling of a parallel stage', () => {
    const doc = twoStages({ sequencing: 'parallel' });
    (doc.spec.stages as Array<{ actions: Array<Record<string, unknown>> }>)[0].actions[1].inputs = { v: '${stages.a.x.outputs.k}' };
    expect(issuesOf(doc)).toEqual([
      {
        path: '$.spec.stages[0].actions[1].inputs.v',
        code: C.PARALLEL_SIBLING_REFERENCE,
        message:
          '${stages.a.x.outputs.k} refers to action "x", which runs at the same time as "y" in parallel stage "a"; move one of them to another stage, or make the stage sequential.',
      },
    ]);
  });

  it('reports a cycle among references with its path', () => {
    const doc = twoStages();
    const [x, y] = (doc.spec.stages as Array<{ actions: Array<Record<string, unknown>> }>)[0].actions;
    x.inputs = { v: '${stages.a.y.outputs.k}' };
    y.inputs = { v: '${stages.a.x.outputs.k}' };
    const issues = issuesOf(doc);
    expect(issues.map(({ path, code }) => [path, code])).toEqual([
      ['$.spec.stages[0].actions[0].inputs.v', C.FORWARD_REFERENCE],
      ['$.spec.stages[0].actions[0].inputs.v', C.REFERENCE_CYCLE],
    ]);
    expect(issues[1].message).toBe('References form a cycle: a.x -> a.y -> a.x; remove one of these references.');
  });

  it('reports a longer cycle once, by its shortest path', () => {
    const ref = (to: string) => ({ outputs: ['k'], inputs: { v: `\${stages.p.${to}.outputs.k}` } });
    const doc = workflow([stage('p', [action('a', ref('b')), action('b', ref('c')), action('c', ref('a'))], { sequencing: 'parallel' })]);
    const cycles = issuesOf(doc).filter((issue) => issue.code === C.REFERENCE_CYCLE);
    expect(cycles).toEqual([
      {
        path: '$.spec.stages[0].actions[0].inputs.v',
        code: C.REFERENCE_CYCLE,
        message: 'References form a cycle: p.a -> p.b -> p.c -> p.a; remove one of these references.',
      },
    ]);
  });

  it('rejects expressions where they are not replaced', () => {
    const doc = twoStages(
      {},
      { image: 'app:${params.tag}', workingDir: '/src/${BUILD_ID}' },
      { params: { tag: 'v1' }, env: { OUT: '${stages.a.x.outputs.k}' } },
    );
    expect(pairs(doc)).toEqual([
      ['$.spec.env.OUT', C.EXPRESSION_NOT_ALLOWED],
      ['$.spec.stages[1].actions[0].image', C.EXPRESSION_NOT_ALLOWED],
      ['$.spec.stages[1].actions[0].workingDir', C.EXPRESSION_NOT_ALLOWED],
    ]);
  });

  it('writes keys that are not identifiers, or look like indexes, in brackets', () => {
    expect(pairs(twoStages({}, { inputs: { '0': '${foo}', 'my key': { "it's": ['${bar}'] } } }))).toEqual([
      ["$.spec.stages[1].actions[0].inputs['0']", C.UNKNOWN_EXPRESSION],
      ["$.spec.stages[1].actions[0].inputs['my key']['it\\'s'][0]", C.UNKNOWN_EXPRESSION],
    ]);
  });
});

describe('validateWorkflow: links', () => {
  const withLinks = (links: unknown[], z: Record<string, unknown> = {}) => twoStages({}, z, { links });

  it('rejects malformed from and to', () => {
    const issues = issuesOf(withLinks([{ from: 'a.x.k', to: 'stages.b.z.outputs.v' }]));
    expect(issues).toEqual([
      {
        path: '$.spec.links[0].from',
        code: C.INVALID_LINK,
        message: '"a.x.k" is not an output: write stages.<stage>.<action>.outputs.<key>.',
      },
      {
        path: '$.spec.links[0].to',
        code: C.INVALID_LINK,
        message: expect.stringContaining('is not an input: write stages.<stage>.<action>.inputs.<key>'),
      },
    ]);
  });

  it('requires to to name an existing stage and action', () => {
    expect(pairs(withLinks([{ from: 'stages.a.x.outputs.k', to: 'stages.c.z.inputs.v' }]))).toEqual([
      ['$.spec.links[0].to', C.UNKNOWN_STAGE],
    ]);
    expect(pairs(withLinks([{ from: 'stages.a.x.outputs.k', to: 'stages.b.q.inputs.v' }]))).toEqual([
      ['$.spec.links[0].to', C.UNKNOWN_ACTION],
    ]);
  });

  it('checks from like any reference', () => {
    expect(pairs(withLinks([{ from: 'stages.a.x.outputs.nope', to: 'stages.b.z.inputs.v' }]))).toEqual([
      ['$.spec.links[0].from', C.UNDECLARED_OUTPUT],
    ]);
    expect(pairs(withLinks([{ from: 'stages.c.x.outputs.k', to: 'stages.b.z.inputs.v' }]))).toEqual([
      ['$.spec.links[0].from', C.UNKNOWN_STAGE],
    ]);
    expect(pairs(withLinks([{ from: 'stages.b.z.outputs.k', to: 'stages.a.x.inputs.v' }], { outputs: ['k'] }))).toEqual([
      ['$.spec.links[0].from', C.FORWARD_REFERENCE],
    ]);
    // The target's input key is free: it need not exist yet.
    expect(accepted(withLinks([{ from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.anything' }]))).toBeDefined();
  });

  it('rejects two links writing the same input, naming both', () => {
    const issues = issuesOf(
      withLinks([
        { from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.v' },
        { from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.w' },
        { from: '${stages.a.y.outputs.k}', to: 'stages.b.z.inputs.v' },
      ]),
    );
    expect(issues).toEqual([
      {
        path: '$.spec.links[2].to',
        code: C.EVENT_CONFLICT,
        message:
          'links[0] (stages.a.x.outputs.k) and links[2] (stages.a.y.outputs.k) both write stages.b.z.inputs.v; keep only one of them.',
      },
    ]);
  });

  it('rejects a link writing an input that is also set inline', () => {
    const issues = issuesOf(withLinks([{ from: 'stages.a.x.outputs.k', to: 'stages.b.z.inputs.v' }], { inputs: { v: 'inline' } }));
    expect(issues).toEqual([
      {
        path: '$.spec.links[0].to',
        code: C.EVENT_CONFLICT,
        message:
          'the inline input $.spec.stages[1].actions[0].inputs.v and links[0] (stages.a.x.outputs.k) both write stages.b.z.inputs.v; keep only one of them.',
      },
    ]);
  });

  it('counts links in cycles', () => {
    const doc = twoStages(
      {},
      {},
      {
        links: [
          { from: 'stages.a.y.outputs.k', to: 'stages.a.x.inputs.v' },
          { from: 'stages.a.x.outputs.k', to: 'stages.a.y.inputs.v' },
        ],
      },
    );
    expect(pairs(doc)).toEqual([
      ['$.spec.links[0].from', C.FORWARD_REFERENCE],
      ['$.spec.links[0].from', C.REFERENCE_CYCLE],
    ]);
  });
});

describe('validateWorkflow: all issues at once', () => {
  it('reports schema and semantic problems of the whole document together', () => {
    const doc = workflow(
      [
        stage('build', [
          action('compile', { outputs: ['artifact'], timeout: 'forever' }),
          { name: 'both', image: 'x', component: 'a/b@1' },
        ]),
        stage('build', [action('ship', { inputs: { a: '${stages.build.compile.outputs.nope}', b: '${params.env}' }, colour: 'red' })]),
      ],
      { concurrency: 0, links: [{ from: 'stages.build.compile.outputs.artifact', to: 'stages.deploy.ship.inputs.a' }] },
    );
    (doc.metadata as Record<string, unknown>).name = 'Bad Name';
    expect(pairs(doc)).toEqual([
      ['$.metadata.name', C.INVALID_NAME],
      ['$.spec.concurrency', C.OUT_OF_RANGE],
      ['$.spec.stages[0].actions[0].timeout', C.INVALID_DURATION],
      ['$.spec.stages[1].actions[0].colour', C.UNKNOWN_FIELD],
      ['$.spec.stages[1].name', C.DUPLICATE_STAGE],
      ['$.spec.stages[0].actions[1]', C.IMAGE_XOR_COMPONENT],
      ['$.spec.stages[1].actions[0].inputs.a', C.UNDECLARED_OUTPUT],
      ['$.spec.stages[1].actions[0].inputs.b', C.UNKNOWN_PARAM],
      ['$.spec.links[0].to', C.UNKNOWN_STAGE],
    ]);
  });
});

describe('validateWorkflow: malformed input', () => {
  it.each([
    ['spec null', { ...workflow([]), spec: null }],
    ['stages a string', workflow('x')],
    ['odd stages', workflow([null, 1, 'a', [], { name: 5, actions: 'x' }, { actions: [null, 7, { name: ['x'] }, {}] }])],
    ['odd links', workflow([], { links: [null, 'x', { from: 1, to: [] }, {}] })],
    [
      'odd params and env',
      workflow([stage('s', [action('a', { inputs: 'x', env: [], outputs: 'k', retries: 'x', resources: [] })])], { params: [], env: 'x' }),
    ],
  ])('reports %s without crashing', (_, doc) => {
    expect(issuesOf(doc).length).toBeGreaterThan(0);
  });

  it('limits how deep inputs nest', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < MAX_INPUT_DEPTH + 5; i++) deep = [deep];
    expect(pairs(twoStages({}, { inputs: { deep } }))).toEqual([
      [`$.spec.stages[1].actions[0].inputs.deep${'[0]'.repeat(MAX_INPUT_DEPTH - 1)}`, C.LIMIT_EXCEEDED],
    ]);
  });

  it('refuses a document nested deeper than the limit before the schema recurses into it', () => {
    let deep: unknown = 'k';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const doc = workflow([stage('s', [action('a', { outputs: [deep, deep] })])]);
    expect(pairs(doc)).toEqual([[`$.spec.stages[0].actions[0].outputs[1]${'[0]'.repeat(MAX_DOCUMENT_DEPTH - 7)}`, C.LIMIT_EXCEEDED]]);
    expect(pairs(JSON.parse(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`))).toEqual([
      [`$.a${'[0]'.repeat(MAX_DOCUMENT_DEPTH - 1)}`, C.LIMIT_EXCEEDED],
    ]);
  });

  it('rejects values that are not JSON and survives cycles', () => {
    const inputs: Record<string, unknown> = { big: 10n, fn: () => 1, date: new Date(0), inf: Number.POSITIVE_INFINITY };
    inputs.self = inputs;
    expect(pairs(twoStages({}, { inputs }))).toEqual([
      ['$.spec.stages[1].actions[0].inputs.big', C.WRONG_TYPE],
      ['$.spec.stages[1].actions[0].inputs.fn', C.WRONG_TYPE],
      ['$.spec.stages[1].actions[0].inputs.date', C.WRONG_TYPE],
      ['$.spec.stages[1].actions[0].inputs.inf', C.WRONG_TYPE],
    ]);
  });

  it('caps the number of issues of a huge document', () => {
    const stages = Array.from({ length: 2000 }, (_, i) => ({
      name: `bad.${i}`,
      actions: [{ name: 'x', image: 'i', inputs: { v: '${stages.none.x.outputs.k}' } }],
    }));
    const started = Date.now();
    const issues = issuesOf(workflow(stages));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(issues).toHaveLength(MAX_ISSUES + 1);
    expect(issues[MAX_ISSUES]).toEqual({
      path: '$',
      code: C.TOO_MANY_ISSUES,
      message: expect.stringMatching(/^\d+ more issues are not shown/),
    });
  });
});

describe('formatPath', () => {
  it('writes JSON paths', () => {
    expect(formatPath([])).toBe('$');
    expect(formatPath(['spec', 'stages', 1, 'actions', 0, 'inputs', 'a'])).toBe('$.spec.stages[1].actions[0].inputs.a');
    expect(formatPath(['labels', 'app/name', 'a-b'])).toBe("$.labels['app/name']['a-b']");
  });
});

describe('secrets', () => {
  const declared = { secrets: [{ name: 'TOKEN', description: 'registry token', required: true }, { name: 'OPTIONAL' }] };

  it('accepts secrets in workflow and action env values', () => {
    const doc = workflow([stage('s', [action('a', { env: { AUTH: 'Bearer ${{ secrets.TOKEN }}' } })])], { ...declared, env: { O: '${{ secrets.OPTIONAL }}' } });
    expect(accepted(doc).spec.secrets).toEqual(declared.secrets);
  });

  it('refuses secrets in inputs, command and args, and undeclared or duplicate secrets, with paths', () => {
    const doc = workflow(
      [
        stage('s', [
          action('a', {
            inputs: { nested: ['${{ secrets.TOKEN }}'] },
            command: ['sh', '-c', 'echo ${{ secrets.TOKEN }}'],
            args: ['${{ secrets.TOKEN }}'],
            env: { X: '${{ secrets.NOPE }}' },
          }),
        ]),
      ],
      { secrets: [...declared.secrets, { name: 'TOKEN' }, { name: '1bad' }] },
    );
    expect(issuesOf(doc).map((issue) => [issue.path, issue.code])).toEqual(
      expect.arrayContaining([
        ['$.spec.stages[0].actions[0].inputs.nested[0]', C.SECRET_NOT_ALLOWED],
        ['$.spec.stages[0].actions[0].command[2]', C.SECRET_NOT_ALLOWED],
        ['$.spec.stages[0].actions[0].args[0]', C.SECRET_NOT_ALLOWED],
        ['$.spec.stages[0].actions[0].env.X', C.UNKNOWN_SECRET],
        ['$.spec.secrets[2].name', C.DUPLICATE_SECRET],
        ['$.spec.secrets[3].name', C.INVALID_NAME],
      ]),
    );
  });

  it('limits a workflow to 50 secrets', () => {
    const secrets = Array.from({ length: 51 }, (_, i) => ({ name: `S${i}` }));
    expect(issuesOf(workflow([stage('s', [action('a')])], { secrets }))).toEqual([expect.objectContaining({ path: '$.spec.secrets', code: C.LIMIT_EXCEEDED })]);
  });
});
