import { ManifestInvalidError, readManifest } from './component-manifest';
import { parseImageReference } from './image-reference';

const GREETER = `apiVersion: containerops.io/v1
kind: Component
metadata:
  name: greeter
  namespace: default
  version: 1.0.0
spec:
  image: 127.0.0.1:5000/default/greeter:1.0.0
  command: ["sh", "-c", "echo '[COUT] greeting = hello'"]
  inputs:
    type: object
    properties: {name: {type: string}}
    required: [name]
  outputs:
    greeting: {type: string}
`;

function issuesOf(body: unknown, format: 'yaml' | 'json' | 'object' = 'object'): { path: string; message: string }[] {
  try {
    readManifest(body, format);
  } catch (error) {
    if (error instanceof ManifestInvalidError) return error.issues;
    throw error;
  }
  throw new Error('the manifest was accepted');
}

describe('component manifest', () => {
  it('accepts the manifest of the documentation as written, with defaults filled in', () => {
    const manifest = readManifest(GREETER, 'yaml');
    expect(manifest.metadata).toMatchObject({ name: 'greeter', namespace: 'default', version: '1.0.0', visibility: 'org', labels: [], description: '' });
    expect(manifest.spec.outputs).toEqual({ greeting: { type: 'string' } });
    expect(manifest.spec.overridable).toEqual({ command: false, env: [] });
    expect(readManifest(JSON.stringify(manifest), 'json')).toEqual(manifest);
  });

  it('accepts every optional field', () => {
    const manifest = readManifest(
      {
        apiVersion: 'containerops.io/v1',
        kind: 'Component',
        metadata: {
          name: 'run-script',
          namespace: 'acme',
          version: '2.0.0-rc.1',
          description: 'Runs a script',
          readme: '# Run script\n',
          labels: ['shell', 'script'],
          categories: ['build'],
          visibility: 'public',
          maintainers: [{ name: 'Ops', email: 'ops@example.com', url: 'https://example.com' }],
        },
        spec: {
          image: '127.0.0.1:5000/acme/tools/run-script@sha256:' + 'a'.repeat(64),
          env: { SHELL_OPTS: '-e' },
          resources: { cpu: '500m', memory: '256Mi' },
          timeout: '1h30m',
          overridable: { command: true, env: ['SHELL_OPTS'] },
        },
      },
      'object',
    );
    expect(manifest.spec.overridable).toEqual({ command: true, env: ['SHELL_OPTS'] });
  });

  it('lists every problem at once with its JSON path', () => {
    const issues = issuesOf({
      apiVersion: 'containerops.io/v2',
      kind: 'Component',
      metadata: { name: 'Bad_Name', namespace: 'acme', version: 'v1.0', colour: 'red' },
      spec: {
        image: 42,
        env: { CO_DATA: 'x', '1BAD': 'y' },
        outputs: { greeting: { type: 'text' }, CO_RESULT: { type: 'string' } },
        inputs: { type: 'object', properties: { name: { type: 'strin' } } },
        timeout: '15d',
        resources: { cpu: '0m', memory: '1GB' },
      },
    });
    const paths = issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '$.apiVersion',
        '$.metadata.name',
        '$.metadata.colour',
        '$.metadata.version',
        '$.spec.image',
        '$.spec.env.CO_DATA',
        '$.spec.env["1BAD"]',
        '$.spec.outputs.greeting.type',
        '$.spec.outputs.CO_RESULT',
        '$.spec.timeout',
        '$.spec.resources.cpu',
        '$.spec.resources.memory',
      ]),
    );
    expect(paths.some((path) => path.startsWith('$.spec.inputs'))).toBe(true);
    expect(issues.find((issue) => issue.path === '$.metadata.version')!.message).toMatch(/semantic version/);
  });

  it('names missing fields at their own path', () => {
    expect(issuesOf({ apiVersion: 'containerops.io/v1', kind: 'Component', metadata: { name: 'x' }, spec: {} }).map((issue) => issue.path).sort()).toEqual([
      '$.metadata.namespace',
      '$.metadata.version',
      '$.spec.image',
    ]);
  });

  it('refuses inputs that are not an object schema, and references that cannot resolve', () => {
    expect(issuesOf({ ...JSON.parse(JSON.stringify(readManifest(GREETER, 'yaml'))), spec: { image: 'h.io/a/b:1', inputs: { type: 'string' } } }).map((issue) => issue.path)).toEqual(['$.spec.inputs.type']);
    const unresolved = issuesOf({ ...readManifest(GREETER, 'yaml'), spec: { image: 'h.io/a/b:1', inputs: { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } } } });
    expect(unresolved[0].path).toBe('$.spec.inputs');
  });

  it('refuses build metadata, broken YAML and oversized documents', () => {
    expect(issuesOf(GREETER.replace('version: 1.0.0', 'version: 1.0.0+build.1'), 'yaml')[0].message).toMatch(/build metadata/);
    expect(issuesOf('apiVersion: [unclosed', 'yaml')[0].message).toMatch(/invalid YAML at line 1/);
    expect(issuesOf(`${'['.repeat(200)}${']'.repeat(200)}`, 'yaml')[0].message).toMatch(/nest deeper/);
    expect(() => readManifest(GREETER + `# ${'x'.repeat(300 * 1024)}\n`, 'yaml')).toThrow(expect.objectContaining({ code: 'COMPONENT.TOO_LARGE', httpStatus: 413 }));
    const readme = readManifest(GREETER, 'yaml');
    readme.metadata.readme = 'x'.repeat(65 * 1024);
    expect(issuesOf(readme).map((issue) => issue.path)).toEqual(['$.metadata.readme']);
  });
});

describe('image references', () => {
  it('takes apart host, workspace, repository and tag or digest', () => {
    expect(parseImageReference('127.0.0.1:5000/team/tools/build:1.0')).toEqual({ host: '127.0.0.1:5000', workspace: 'team', repository: 'tools/build', tag: '1.0' });
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(parseImageReference(`Registry.example.com/team/app@${digest}`)).toEqual({ host: 'registry.example.com', workspace: 'team', repository: 'app', digest });
  });

  it('refuses references without a host, a tag or a repository', () => {
    expect(() => parseImageReference('team/app:1.0')).toThrow(/registry host/);
    expect(() => parseImageReference('127.0.0.1:5000/team/app')).toThrow(/tag/);
    expect(() => parseImageReference('127.0.0.1:5000/app:1')).toThrow(/workspace and the repository/);
    expect(() => parseImageReference('127.0.0.1:5000/team/app@sha256:xyz')).toThrow(/digest/);
  });
});
