/**
 * The shape of `component.yaml` as JSON Schema (draft 2020-12), served at
 * GET /api/v1/schemas/component. What a schema cannot say (semver, the inputs schema
 * being a valid schema itself, byte limits) is checked in component-manifest.ts.
 * `errorHint` is this project's keyword: the sentence a user sees when the value
 * under it is refused.
 */
export const COMPONENT_LIMITS = {
  /** The manifest as sent (YAML or JSON text). */
  manifestBytes: 256 * 1024,
  readmeBytes: 64 * 1024,
  /** `spec.inputs` as JSON. */
  inputsSchemaBytes: 64 * 1024,
  outputs: 100,
  nameLength: 64,
  versionLength: 128,
  descriptionLength: 1000,
  labels: 20,
  categories: 10,
  maintainers: 20,
  envVariables: 100,
  envValueLength: 4096,
  commandItems: 100,
  commandItemLength: 8192,
  /** The longest `spec.timeout`: the platform's own default for a task without one (14 days). */
  timeoutSeconds: 14 * 24 * 3600,
} as const;

export const COMPONENT_API_VERSION = 'containerops.io/v1';
export const COMPONENT_KIND = 'Component';

export const SLUG = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$';
export const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';
/** The `[COUT]` key grammar of the component protocol (docs/component-protocol.md). */
export const OUTPUT_KEY = '^[A-Za-z_][A-Za-z0-9_]*$';
// Durations, CPU and memory quantities as workflow actions write them (docs/workflows.md), so that
// what a component declares is what an action may say.
const DECIMAL = '\\d+(?:\\.\\d+)?';
export const DURATION_PATTERN = `^(?=\\d)(?:(${DECIMAL})d)?(?:(${DECIMAL})h)?(?:(${DECIMAL})m(?!s))?(?:(${DECIMAL})s)?(?:(${DECIMAL})ms)?$`;
export const CPU_PATTERN = `^(?:\\d+m|${DECIMAL})$`;
export const MEMORY_PATTERN = `^(${DECIMAL})([kKMGTPE]i?)?$`;
export const OUTPUT_TYPES = ['string', 'number', 'boolean', 'json'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

const slug = (what: string) => ({
  type: 'string',
  minLength: 1,
  maxLength: COMPONENT_LIMITS.nameLength,
  pattern: SLUG,
  errorHint: `${what} must be 1 to ${COMPONENT_LIMITS.nameLength} lowercase letters, digits and dashes, starting and ending with a letter or digit (like run-script)`,
});

const label = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$',
  errorHint: 'a label must be 1 to 63 lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit (like git)',
};

export const COMPONENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://containerops.io/schemas/component/v1',
  title: 'ContainerOps component manifest (component.yaml)',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: COMPONENT_API_VERSION, errorHint: `apiVersion must be ${COMPONENT_API_VERSION}` },
    kind: { const: COMPONENT_KIND, errorHint: `kind must be ${COMPONENT_KIND}` },
    metadata: {
      type: 'object',
      required: ['name', 'namespace', 'version'],
      additionalProperties: false,
      properties: {
        name: slug('the component name'),
        namespace: slug('the namespace (the slug of the organization that publishes the component)'),
        version: { type: 'string', minLength: 1, maxLength: COMPONENT_LIMITS.versionLength },
        description: { type: 'string', maxLength: COMPONENT_LIMITS.descriptionLength },
        readme: { type: 'string' },
        labels: { type: 'array', maxItems: COMPONENT_LIMITS.labels, uniqueItems: true, items: label },
        categories: { type: 'array', maxItems: COMPONENT_LIMITS.categories, uniqueItems: true, items: label },
        visibility: { enum: ['public', 'org'], errorHint: 'visibility must be public (every organization sees it) or org (only its own organization)' },
        maintainers: {
          type: 'array',
          maxItems: COMPONENT_LIMITS.maintainers,
          items: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 200 },
              email: { type: 'string', maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$', errorHint: 'email must be an e-mail address' },
              url: { type: 'string', maxLength: 2048, pattern: '^https?://\\S+$', errorHint: 'url must be an http(s) URL' },
            },
          },
        },
      },
    },
    spec: {
      type: 'object',
      required: ['image'],
      additionalProperties: false,
      properties: {
        image: {
          type: 'string',
          minLength: 1,
          maxLength: 512,
          errorHint: 'image must name an image in dockyard: <registry host>/<workspace>/<repository>:<tag> or …@sha256:<digest>',
        },
        command: {
          type: 'array',
          minItems: 1,
          maxItems: COMPONENT_LIMITS.commandItems,
          items: { type: 'string', maxLength: COMPONENT_LIMITS.commandItemLength },
        },
        env: {
          type: 'object',
          maxProperties: COMPONENT_LIMITS.envVariables,
          propertyNames: {
            pattern: ENV_NAME,
            maxLength: 128,
            errorHint: 'an environment variable name must be letters, digits and "_", not starting with a digit',
          },
          additionalProperties: { type: 'string', maxLength: COMPONENT_LIMITS.envValueLength, errorHint: `an environment value must be a string of at most ${COMPONENT_LIMITS.envValueLength} characters (quote numbers and booleans in YAML)` },
        },
        resources: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cpu: {
              type: ['string', 'number'],
              pattern: CPU_PATTERN,
              exclusiveMinimum: 0,
              errorHint: 'cpu must be a number of cores above zero (0.5, "2") or millicores ("500m")',
            },
            memory: {
              type: 'string',
              pattern: MEMORY_PATTERN,
              errorHint: 'memory must be a number of bytes with an optional unit: k, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei (like "256Mi")',
            },
          },
        },
        timeout: {
          type: ['string', 'number'],
          pattern: DURATION_PATTERN,
          exclusiveMinimum: 0,
          errorHint: 'timeout must be a duration like "30s", "10m", "1h30m" or a number of seconds',
        },
        inputs: { type: 'object', errorHint: 'inputs must be a JSON Schema (draft 2020-12) object' },
        outputs: {
          type: 'object',
          maxProperties: COMPONENT_LIMITS.outputs,
          propertyNames: {
            pattern: OUTPUT_KEY,
            maxLength: 128,
            not: { const: 'CO_RESULT' },
            errorHint: 'an output key must be letters, digits and "_", not starting with a digit (as [COUT] lines write it); CO_RESULT is the protocol\'s own',
          },
          additionalProperties: {
            type: 'object',
            required: ['type'],
            additionalProperties: false,
            properties: {
              type: { enum: [...OUTPUT_TYPES], errorHint: `an output type must be one of ${OUTPUT_TYPES.join(', ')}` },
              description: { type: 'string', maxLength: COMPONENT_LIMITS.descriptionLength },
            },
          },
        },
        overridable: {
          type: 'object',
          additionalProperties: false,
          properties: {
            command: { type: 'boolean', errorHint: 'overridable.command must be true or false' },
            env: {
              type: ['boolean', 'array'],
              maxItems: COMPONENT_LIMITS.envVariables,
              uniqueItems: true,
              items: { type: 'string', pattern: ENV_NAME, maxLength: 128, errorHint: 'an environment variable name must be letters, digits and "_", not starting with a digit' },
              errorHint: 'overridable.env must be true (any variable), false (none) or a list of variable names',
            },
          },
        },
      },
    },
  },
} as const;
