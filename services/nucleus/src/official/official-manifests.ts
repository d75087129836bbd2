/**
 * The official components: published by the platform in the namespace `official`
 * (public) once dockyard holds their images. dockyard builds the images at its start
 * from Debian packages into its public workspace `official` (organization `official`,
 * project `components`), tagged with the version line (`1.0`); see docs/registry.md.
 *
 * `version` is the first version of the line. When dockyard rebuilds an image from
 * newer packages, the line's tag names a new digest and nucleus publishes it as the
 * line's next patch version (1.0.1, 1.0.2, …). A change of an entry script or of a
 * contract below is a new line: raise the minor (or major) version here and the line
 * of the image in dockyard together.
 */
export const OFFICIAL_NAMESPACE = 'official';
export const OFFICIAL_WORKSPACE = 'official';
/** The project of dockyard's `official` workspace: the official components belong to it. */
export const OFFICIAL_PROJECT = 'components';
/** The publisher recorded for the official components (`publishedBy`, event actor). */
export const OFFICIAL_PUBLISHER = 'system';

export interface OfficialComponent {
  name: string;
  /** `MAJOR.MINOR.0`: the first version of the line the image's tag names. */
  version: string;
  /** What goes in `metadata` besides name, namespace and version. */
  metadata: Record<string, unknown>;
  /** `spec` without `image`, which names dockyard's host. */
  spec: Record<string, unknown>;
}

const MAINTAINERS = [{ name: 'ContainerOps' }];

/** Names of environment variables a script may be given: a shell's, never the engine's `CO_*`. */
const ENV_NAMES = { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', not: { pattern: '^CO_' } };

export const OFFICIAL_COMPONENTS: OfficialComponent[] = [
  {
    name: 'echo',
    version: '1.0.0',
    metadata: {
      description: 'Prints a message and hands it back as its output: the smallest component, for examples and for trying a platform out.',
      readme: [
        '# official/echo',
        '',
        'Prints `inputs.message` in the task log and writes it as the output `message`',
        '(line breaks become spaces: an output is one line).',
        '',
        '```yaml',
        '- name: hello',
        '  component: official/echo@^1',
        '  inputs: {message: "hello from ${params.who}"}',
        '```',
      ].join('\n'),
      labels: ['example', 'official'],
      categories: ['utility'],
      visibility: 'public',
      maintainers: MAINTAINERS,
    },
    spec: {
      command: ['/usr/local/bin/co-echo'],
      inputs: {
        type: 'object',
        properties: { message: { type: 'string', maxLength: 16384, description: 'What to print.' } },
        required: ['message'],
        additionalProperties: false,
      },
      outputs: { message: { type: 'string', description: 'The message, on one line.' } },
      timeout: '5m',
    },
  },
  {
    name: 'run-script',
    version: '1.0.0',
    metadata: {
      description: 'Runs a shell script (busybox sh) with the environment variables it is given; fails when the script fails.',
      readme: [
        '# official/run-script',
        '',
        'Runs `inputs.script` with `inputs.shell` (`sh`, the default, or `ash`: busybox) in',
        '`/workspace`, with the variables of `inputs.env` exported. With `errexit` (the',
        'default) the script stops at the first command that fails. The task fails when',
        'the script exits with anything but 0. The script may print `[COUT] result = …`.',
        '',
        'The image holds busybox only. To run a script in another image (the "image and',
        'version" of a run-script task), write an action with `image:` and `command:` instead.',
      ].join('\n'),
      labels: ['official', 'script', 'shell'],
      categories: ['utility'],
      visibility: 'public',
      maintainers: MAINTAINERS,
    },
    spec: {
      command: ['/usr/local/bin/co-run-script'],
      inputs: {
        type: 'object',
        properties: {
          script: { type: 'string', minLength: 1, maxLength: 65536, description: 'The commands to run.' },
          shell: { enum: ['sh', 'ash'], default: 'sh', description: 'The shell that runs the script (both are busybox ash).' },
          errexit: { type: 'boolean', default: true, description: 'Stop at the first command that fails (sh -e).' },
          env: {
            type: 'object',
            maxProperties: 100,
            propertyNames: ENV_NAMES,
            additionalProperties: { type: 'string', maxLength: 4096 },
            description: 'Environment variables for the script.',
          },
        },
        required: ['script'],
        additionalProperties: false,
      },
      outputs: { result: { type: 'string', description: 'What the script printed as [COUT] result = …, if anything.' } },
      overridable: { env: true },
    },
  },
  {
    name: 'git-clone',
    version: '1.0.0',
    metadata: {
      description: 'Clones a git repository at a branch or tag and outputs the commit checked out.',
      readme: [
        '# official/git-clone',
        '',
        'Clones `inputs.url` (http, https or git protocol) into `/workspace/<directory>`',
        '(`src` by default) at `inputs.ref` (a branch or a tag; the remote\'s default',
        'branch when left out), `inputs.depth` commits deep (1 by default; 0 clones the',
        'whole history; servers that only speak git\'s "dumb" HTTP need 0). Outputs',
        '`commit`, the full id of the commit checked out, and `directory`.',
        '',
        'Credentials written into the URL are left out of the log line the component',
        'prints, but they are part of the run\'s inputs: use a public URL or a token',
        'meant for reading.',
      ].join('\n'),
      labels: ['git', 'official', 'scm'],
      categories: ['source'],
      visibility: 'public',
      maintainers: MAINTAINERS,
    },
    spec: {
      command: ['/usr/local/bin/co-git-clone'],
      inputs: {
        type: 'object',
        properties: {
          url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^(https?|git)://', description: 'The repository to clone.' },
          ref: { type: 'string', maxLength: 255, description: 'A branch or tag; the default branch when left out.' },
          depth: { type: 'integer', minimum: 0, maximum: 1000000, default: 1, description: 'How many commits deep (0: the whole history).' },
          directory: {
            type: 'string',
            maxLength: 255,
            pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$',
            default: 'src',
            description: 'Where to clone, inside /workspace.',
          },
        },
        required: ['url'],
        additionalProperties: false,
      },
      outputs: {
        commit: { type: 'string', description: 'The full id of the commit checked out.' },
        directory: { type: 'string', description: 'The absolute path of the clone.' },
      },
      timeout: '30m',
    },
  },
];

/** The version line of a version, which an official component's image is tagged with: `1.0` for 1.0.x. */
export function lineOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/** The manifest of one version of an official component, its image named on `registryHost`. */
export function officialManifest(component: OfficialComponent, version: string, registryHost: string): object {
  return {
    apiVersion: 'containerops.io/v1',
    kind: 'Component',
    metadata: { name: component.name, namespace: OFFICIAL_NAMESPACE, version, ...component.metadata },
    spec: { image: `${registryHost}/${OFFICIAL_WORKSPACE}/${component.name}:${lineOf(component.version)}`, ...component.spec },
  };
}
