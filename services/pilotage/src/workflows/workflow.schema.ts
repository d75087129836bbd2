import { CPU_PATTERN, DURATION_PATTERN, MEMORY_PATTERN } from './durations';
import { KEY_PATTERN, SECRET_NAME_PATTERN, STEP_NAME_PATTERN } from './expressions';

export const WORKFLOW_SCHEMA_ID = 'https://containerops.io/schemas/workflow/v1';

const DNS_LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
export const RESOURCE_NAME_PATTERN = `^${DNS_LABEL}$`;
export const PROJECT_PATTERN = `^${DNS_LABEL}/${DNS_LABEL}$`;

const SEMVER_PART = '(?:0|[1-9]\\d*|[xX*])';
const SEMVER_TAG = '[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*';
const VERSION = `v?${SEMVER_PART}(?:\\.${SEMVER_PART}){0,2}(?:-${SEMVER_TAG})?(?:\\+${SEMVER_TAG})?`;
const COMPARATOR = `(?:\\^|~|>=|<=|>|<|=)?${VERSION}`;
const COMPARATOR_SET = `(?:${VERSION} - ${VERSION}|${COMPARATOR}(?: ${COMPARATOR})*)`;
/** `<namespace>/<name>@<version or range>`: `acme/go-build@1.4.2`, `acme/lint@^2.1`, `acme/test@>=1.0 <2 || 3.x`. */
export const COMPONENT_PATTERN = `^${DNS_LABEL}/${DNS_LABEL}@${COMPARATOR_SET}(?: \\|\\| ${COMPARATOR_SET})*$`;

const stringMap = (description: string, valueDescription: string) => ({
  type: 'object',
  description,
  propertyNames: { pattern: KEY_PATTERN },
  additionalProperties: { type: 'string', description: valueDescription },
});

/**
 * The workflow document, for YAML and JSON alike (published at GET /api/v1/schemas/workflow).
 * Rules that span several fields (references between actions, links, duplicates) are checked
 * by workflow-validator.ts; the `$defs` names are what the validator maps to issue codes.
 */
export const WORKFLOW_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: WORKFLOW_SCHEMA_ID,
  title: 'ContainerOps workflow',
  description: 'Stages run one after another; each stage runs its actions in sequence or in parallel. Every action is a container.',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'containerops.io/v1', title: 'API version' },
    kind: { const: 'Workflow', title: 'Kind' },
    metadata: {
      type: 'object',
      title: 'Metadata',
      additionalProperties: false,
      required: ['name', 'project'],
      properties: {
        name: {
          $ref: '#/$defs/resourceName',
          description: 'Workflow name, unique within its project: lowercase letters, digits and dashes.',
        },
        project: {
          $ref: '#/$defs/projectName',
          description: '`<organization>/<project>`; each part lowercase letters, digits and dashes.',
        },
        description: { type: 'string', maxLength: 1000, description: 'Free text, at most 1000 characters.' },
        labels: {
          type: 'object',
          description: 'Labels to find workflows by.',
          maxProperties: 64,
          propertyNames: { pattern: '^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$' },
          additionalProperties: { type: 'string', maxLength: 256 },
        },
      },
    },
    spec: {
      type: 'object',
      title: 'Specification',
      additionalProperties: false,
      properties: {
        params: {
          type: 'object',
          description: 'Parameters with their default values, used as ${params.<name>}; a run may override them.',
          propertyNames: { pattern: KEY_PATTERN },
          additionalProperties: { type: ['string', 'number', 'boolean'] },
        },
        secrets: {
          type: 'array',
          maxItems: 50,
          description:
            'Secrets a run takes (at most 50). Their values come with each run request, are never recorded in events, and are replaced by *** in logs. Actions use them only in env values, as ${{ secrets.<name> }}.',
          items: { $ref: '#/$defs/secret' },
        },
        env: stringMap(
          'Environment variables of every action. Values may use ${BUILD_ID}, ${params.<name>} and ${{ secrets.<name> }}.',
          'Value; may hold ${BUILD_ID}, ${params.<name>} and ${{ secrets.<name> }}.',
        ),
        timeout: { $ref: '#/$defs/timeout', description: 'Time limit of a whole run.' },
        concurrency: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          description: 'Runs of this workflow allowed at once (1 to 100); more wait in the queue.',
        },
        stages: {
          type: 'array',
          maxItems: 50,
          description: 'Stages, run one after another (at most 50).',
          items: { $ref: '#/$defs/stage' },
        },
        links: {
          type: 'array',
          description: 'Data links: the same as setting the target input to ${<from>}.',
          items: { $ref: '#/$defs/link' },
        },
      },
    },
  },
  $defs: {
    resourceName: { type: 'string', pattern: RESOURCE_NAME_PATTERN, title: 'Name' },
    projectName: { type: 'string', pattern: PROJECT_PATTERN, title: 'Project', examples: ['default/admin'] },
    stepName: {
      type: 'string',
      pattern: STEP_NAME_PATTERN,
      title: 'Name',
      description: 'Starts with a letter; letters, digits, `_` and `-`; at most 63 characters.',
    },
    outputKey: { type: 'string', pattern: KEY_PATTERN, title: 'Output key' },
    secret: {
      type: 'object',
      title: 'Secret',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: {
          type: 'string',
          pattern: SECRET_NAME_PATTERN,
          description: 'Like an environment variable name: a letter or `_`, then letters, digits and `_`; at most 64 characters.',
          examples: ['REGISTRY_PASSWORD'],
        },
        description: { type: 'string', maxLength: 1000, description: 'What the secret is for, shown to whoever starts a run.' },
        required: { type: 'boolean', default: false, description: 'Refuse runs that do not give it. Optional secrets are "" when not given.' },
      },
    },
    timeout: {
      type: ['string', 'number'],
      pattern: DURATION_PATTERN,
      exclusiveMinimum: 0,
      title: 'Timeout',
      description: 'A duration (`500ms`, `30s`, `10m`, `2h`, `14d`, `1h30m`) or a number of seconds; above zero.',
      examples: ['30s', '10m', '1h30m', 600],
    },
    duration: {
      type: ['string', 'number'],
      pattern: DURATION_PATTERN,
      minimum: 0,
      title: 'Duration',
      description: 'A duration (`500ms`, `30s`, `10m`, `2h`, `14d`, `1h30m`) or a number of seconds.',
    },
    cpu: {
      type: ['string', 'number'],
      pattern: CPU_PATTERN,
      exclusiveMinimum: 0,
      title: 'CPU limit',
      description: 'Cores as a number or string (`2`, `0.5`) or millicores (`500m`).',
      examples: ['500m', '2', 0.5],
    },
    memory: {
      type: ['string', 'integer'],
      pattern: MEMORY_PATTERN,
      minimum: 1,
      title: 'Memory limit',
      description: 'Bytes, or a number with a unit: `512M`, `64Mi`, `1Gi`.',
      examples: ['64Mi', '1Gi', '512M', 268435456],
    },
    component: {
      type: 'string',
      maxLength: 256,
      pattern: COMPONENT_PATTERN,
      title: 'Component',
      description: '`<namespace>/<name>@<version or range>`, resolved through the component registry.',
      examples: ['acme/go-build@1.4.2', 'acme/lint@^2.1'],
    },
    stage: {
      type: 'object',
      title: 'Stage',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { $ref: '#/$defs/stepName' },
        sequencing: {
          enum: ['sequence', 'parallel'],
          default: 'sequence',
          description: '`sequence`: actions run one after another, in order; `parallel`: all at once.',
        },
        timeout: { $ref: '#/$defs/timeout', description: 'Time limit of the stage.' },
        actions: { type: 'array', maxItems: 50, description: 'Actions (at most 50).', items: { $ref: '#/$defs/action' } },
      },
    },
    action: {
      type: 'object',
      title: 'Action',
      description: 'One container: give either `image` or `component`.',
      additionalProperties: false,
      required: ['name'],
      // Kept for editors; the validator reports these two rules itself, with clearer messages.
      oneOf: [{ required: ['image'] }, { required: ['component'] }],
      dependentSchemas: { component: { properties: { pullPolicy: false } } },
      properties: {
        name: { $ref: '#/$defs/stepName' },
        image: { type: 'string', minLength: 1, maxLength: 512, pattern: '^\\S+$', description: 'Container image reference.' },
        pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'], default: 'IfNotPresent', description: 'When to pull `image`.' },
        command: {
          type: 'array',
          items: { type: 'string' },
          description: "Replaces the image's entrypoint; strings may hold expressions.",
        },
        args: { type: 'array', items: { type: 'string' }, description: 'Arguments; strings may hold expressions.' },
        component: { $ref: '#/$defs/component' },
        inputs: {
          type: 'object',
          description: 'Data given to the action (as JSON in CO_DATA); strings anywhere inside may hold expressions.',
        },
        env: stringMap(
          'Environment variables; values may hold expressions, including ${{ secrets.<name> }}.',
          'Value; may hold expressions, including ${{ secrets.<name> }}.',
        ),
        outputs: {
          type: 'array',
          uniqueItems: true,
          description: 'Output keys the action reports (`[COUT] key = value`), used as ${stages.<stage>.<action>.outputs.<key>}.',
          items: { $ref: '#/$defs/outputKey' },
        },
        timeout: { $ref: '#/$defs/timeout', description: 'Time limit of one attempt.' },
        retries: {
          type: 'object',
          additionalProperties: false,
          required: ['limit'],
          properties: {
            limit: { type: 'integer', minimum: 0, maximum: 10, description: 'Attempts after the first (0 to 10).' },
            backoff: { $ref: '#/$defs/duration', default: '10s', description: 'Wait between attempts.' },
          },
        },
        resources: {
          type: 'object',
          additionalProperties: false,
          properties: { cpu: { $ref: '#/$defs/cpu' }, memory: { $ref: '#/$defs/memory' } },
        },
        workingDir: { type: 'string', pattern: '^/', description: 'Absolute path the command runs in.' },
      },
    },
    link: {
      type: 'object',
      title: 'Link',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: {
        from: {
          type: 'string',
          description: '`stages.<stage>.<action>.outputs.<key>` (or the same inside `${...}`).',
          examples: ['stages.produce.left.outputs.word'],
        },
        to: { type: 'string', description: '`stages.<stage>.<action>.inputs.<key>`.', examples: ['stages.consume.join.inputs.a'] },
      },
    },
  },
} as const;
