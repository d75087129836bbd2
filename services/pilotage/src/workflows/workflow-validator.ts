import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import { parseCpu, parseDuration, parseMemory } from './durations';
import {
  inputPath,
  type InputTarget,
  type OutputReference,
  outputPath,
  parseInputPath,
  parseOutputPath,
  parseTemplate,
  type Reference,
} from './expressions';
import type { ActionSpec, StageSpec, ValidationIssue, WorkflowDocument } from './workflow-definition';
import { WORKFLOW_SCHEMA } from './workflow.schema';

/** Stable codes of validation issues; each names one rule. */
export const WorkflowIssueCodes = {
  PARSE_ERROR: 'WORKFLOW.PARSE_ERROR',
  UNKNOWN_FIELD: 'WORKFLOW.UNKNOWN_FIELD',
  MISSING_FIELD: 'WORKFLOW.MISSING_FIELD',
  WRONG_TYPE: 'WORKFLOW.WRONG_TYPE',
  INVALID_VALUE: 'WORKFLOW.INVALID_VALUE',
  OUT_OF_RANGE: 'WORKFLOW.OUT_OF_RANGE',
  LIMIT_EXCEEDED: 'WORKFLOW.LIMIT_EXCEEDED',
  INVALID_NAME: 'WORKFLOW.INVALID_NAME',
  DUPLICATE_STAGE: 'WORKFLOW.DUPLICATE_STAGE',
  DUPLICATE_ACTION: 'WORKFLOW.DUPLICATE_ACTION',
  DUPLICATE_OUTPUT: 'WORKFLOW.DUPLICATE_OUTPUT',
  IMAGE_XOR_COMPONENT: 'WORKFLOW.IMAGE_XOR_COMPONENT',
  IMAGE_OPTION_WITH_COMPONENT: 'WORKFLOW.IMAGE_OPTION_WITH_COMPONENT',
  INVALID_COMPONENT: 'WORKFLOW.INVALID_COMPONENT',
  INVALID_DURATION: 'WORKFLOW.INVALID_DURATION',
  INVALID_CPU: 'WORKFLOW.INVALID_CPU',
  INVALID_MEMORY: 'WORKFLOW.INVALID_MEMORY',
  UNKNOWN_EXPRESSION: 'WORKFLOW.UNKNOWN_EXPRESSION',
  EXPRESSION_NOT_ALLOWED: 'WORKFLOW.EXPRESSION_NOT_ALLOWED',
  UNKNOWN_PARAM: 'WORKFLOW.UNKNOWN_PARAM',
  UNKNOWN_SECRET: 'WORKFLOW.UNKNOWN_SECRET',
  SECRET_NOT_ALLOWED: 'WORKFLOW.SECRET_NOT_ALLOWED',
  DUPLICATE_SECRET: 'WORKFLOW.DUPLICATE_SECRET',
  UNKNOWN_STAGE: 'WORKFLOW.UNKNOWN_STAGE',
  UNKNOWN_ACTION: 'WORKFLOW.UNKNOWN_ACTION',
  UNDECLARED_OUTPUT: 'WORKFLOW.UNDECLARED_OUTPUT',
  SELF_REFERENCE: 'WORKFLOW.SELF_REFERENCE',
  FORWARD_REFERENCE: 'WORKFLOW.FORWARD_REFERENCE',
  PARALLEL_SIBLING_REFERENCE: 'WORKFLOW.PARALLEL_SIBLING_REFERENCE',
  REFERENCE_CYCLE: 'WORKFLOW.REFERENCE_CYCLE',
  INVALID_LINK: 'WORKFLOW.INVALID_LINK',
  EVENT_CONFLICT: 'WORKFLOW.EVENT_CONFLICT',
  TOO_MANY_ISSUES: 'WORKFLOW.TOO_MANY_ISSUES',
} as const;
export type WorkflowIssueCode = (typeof WorkflowIssueCodes)[keyof typeof WorkflowIssueCodes];
const C = WorkflowIssueCodes;

export type WorkflowValidationResult = { ok: true; workflow: WorkflowDocument } | { ok: false; issues: ValidationIssue[] };

/** Beyond this many issues the rest are summed up in one, so that a garbage document gets a readable answer. */
export const MAX_ISSUES = 200;
/**
 * Nesting of the whole document. Schema validation recurses (ajv compares array items deeply for
 * `uniqueItems`), so deeper documents are refused before it runs.
 */
export const MAX_DOCUMENT_DEPTH = 64;
/** Inputs are data for one container; deeper nesting is almost surely a mistake and costs stack later. */
export const MAX_INPUT_DEPTH = 32;

type PathSegment = string | number;
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Paths and the issue list

const DOT_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `['spec', 'stages', 1, 'name']` → `$.spec.stages[1].name`; other keys in brackets: `$.labels['a/b']`. */
export function formatPath(segments: readonly PathSegment[]): string {
  return segments.reduce<string>((path, segment) => {
    if (typeof segment === 'number') return `${path}[${segment}]`;
    if (DOT_KEY.test(segment)) return `${path}.${segment}`;
    return `${path}['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }, '$');
}

/** An ajv instancePath (JSON pointer) as segments; the document tells array indexes from keys that look like numbers. */
function pointerSegments(pointer: string, doc: unknown): PathSegment[] {
  if (!pointer) return [];
  let node = doc;
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      const segment = Array.isArray(node) ? Number(key) : key;
      node = isObject(node) && Object.hasOwn(node, key) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
      return segment;
    });
}

class IssueList {
  readonly issues: ValidationIssue[] = [];
  private readonly seen = new Set<string>();
  private dropped = 0;

  add(path: readonly PathSegment[], code: WorkflowIssueCode, message: string): void {
    const at = formatPath(path);
    // The schema and the semantic checks may both catch a value (`timeout: "0s"`); say it once.
    const key = `${at} ${code}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.issues.length < MAX_ISSUES) this.issues.push({ path: at, code, message });
    else this.dropped++;
  }

  result(): ValidationIssue[] {
    if (this.dropped === 0) return this.issues;
    return [
      ...this.issues,
      { path: '$', code: C.TOO_MANY_ISSUES, message: `${this.dropped} more issues are not shown; fix the ones above first.` },
    ];
  }
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function quote(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // BigInt or a circular structure, which only a programmatic caller can pass.
    text = typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function list(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? 'none' : all.map((name) => `"${name}"`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Schema issues: ajv's errors in words

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
const checkSchema = ajv.compile(WORKFLOW_SCHEMA);

interface ValueRule {
  code: WorkflowIssueCode;
  explain: (value: unknown) => string;
}
const rule = (code: WorkflowIssueCode, what: string): ValueRule => ({
  code,
  explain: (value) => `${quote(value)} is not a valid ${what}.`,
});
const defs = WORKFLOW_SCHEMA.$defs;
/** Rules for the named value shapes: any error inside one of these schemas becomes its one issue. */
const VALUE_RULES = new Map<unknown, ValueRule>([
  [
    defs.resourceName,
    rule(C.INVALID_NAME, 'name: use lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'),
  ],
  [defs.projectName, rule(C.INVALID_NAME, 'project: write <organization>/<project>, each part like a name, such as "default/admin"')],
  [
    defs.stepName,
    rule(C.INVALID_NAME, 'name: start with a letter and use only letters, digits, "_" and "-" (no dots), at most 63 characters'),
  ],
  [defs.outputKey, rule(C.INVALID_NAME, 'output key: start with a letter or "_" and use only letters, digits and "_"')],
  [
    defs.secret.properties.name,
    rule(C.INVALID_NAME, 'secret name: start with a letter or "_" and use only letters, digits and "_", at most 64 characters'),
  ],
  [
    defs.timeout,
    rule(C.INVALID_DURATION, 'timeout: write a duration above zero such as "30s", "10m", "1h30m" or "500ms", or a number of seconds'),
  ],
  [defs.duration, rule(C.INVALID_DURATION, 'duration: write one such as "10s", "1m30s" or "500ms", or a number of seconds')],
  [defs.cpu, rule(C.INVALID_CPU, 'CPU limit: write cores ("2", "0.5", 2) or millicores ("500m"), above zero')],
  [
    defs.memory,
    rule(C.INVALID_MEMORY, 'memory limit: write a whole number of bytes or a number with a unit such as "512M", "64Mi" or "1Gi"'),
  ],
  [
    defs.component,
    rule(C.INVALID_COMPONENT, 'component: write <namespace>/<name>@<version or range>, such as "acme/go-build@1.4.2" or "acme/lint@^2.1"'),
  ],
]);

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && Number.isInteger(value)) return 'an integer';
  return `a ${typeof value}`;
}

function typeList(types: unknown): string {
  const names = (Array.isArray(types) ? types : [types]).map((type) =>
    type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${String(type)}`,
  );
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** Levenshtein distance, to suggest the field that was probably meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

function unknownFieldMessage(field: string, allowed: string[]): string {
  const lower = field.toLowerCase();
  const guess = allowed.find((name) => name.toLowerCase() === lower) ?? allowed.find((name) => distance(name.toLowerCase(), lower) <= 2);
  const hint = guess ? ` Did you mean "${guess}"?` : '';
  return `Unknown field ${quote(field)}.${hint} Remove it or use one of: ${allowed.join(', ')}.`;
}

function schemaIssue(error: ErrorObject, doc: unknown, issues: IssueList): void {
  const path = pointerSegments(error.instancePath, doc);
  const schema: unknown = error.parentSchema;
  const rule = VALUE_RULES.get(schema);
  if (rule) return issues.add(path, rule.code, rule.explain(error.data));
  // Both branches of the image/component `oneOf` fail with `required`; the semantic check says it better.
  if (error.schemaPath.includes('/oneOf/')) return;
  const params = error.params as Record<string, unknown>;
  const limit = params.limit as number;
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = isObject(schema) && isObject(schema.properties) ? Object.keys(schema.properties) : [];
      const field = String(params.additionalProperty);
      return issues.add([...path, field], C.UNKNOWN_FIELD, unknownFieldMessage(field, allowed));
    }
    case 'required':
      return issues.add(
        [...path, String(params.missingProperty)],
        C.MISSING_FIELD,
        `Missing required field "${String(params.missingProperty)}"; add it.`,
      );
    case 'type': {
      const what = path.length === 0 ? 'The workflow document' : 'This value';
      return issues.add(path, C.WRONG_TYPE, `${what} must be ${typeList(params.type)}, not ${typeName(error.data)}.`);
    }
    case 'const':
      return issues.add(path, C.INVALID_VALUE, `Must be ${quote(params.allowedValue)}, not ${quote(error.data)}.`);
    case 'enum':
      return issues.add(
        path,
        C.INVALID_VALUE,
        `Must be one of ${(params.allowedValues as unknown[]).map(quote).join(', ')}, not ${quote(error.data)}.`,
      );
    case 'pattern':
      if (error.propertyName !== undefined) {
        const rule =
          path.at(-1) === 'labels'
            ? 'use letters, digits, ".", "/" and "-", starting and ending with a letter or digit, at most 63 characters'
            : 'start with a letter or "_" and use only letters, digits and "_"';
        return issues.add([...path, error.propertyName], C.INVALID_NAME, `${quote(error.propertyName)} is not a valid name here: ${rule}.`);
      }
      if (path.at(-1) === 'workingDir')
        return issues.add(path, C.INVALID_VALUE, `${quote(error.data)} is not an absolute path; start it with "/".`);
      if (path.at(-1) === 'image')
        return issues.add(path, C.INVALID_VALUE, `${quote(error.data)} is not an image reference: it must not contain spaces.`);
      return issues.add(path, C.INVALID_VALUE, `${quote(error.data)} does not have the expected form (${params.pattern as string}).`);
    case 'minLength':
      return issues.add(path, C.INVALID_VALUE, 'Must not be empty.');
    case 'maxLength':
      return issues.add(path, C.LIMIT_EXCEEDED, `Too long: at most ${limit} characters are allowed.`);
    case 'maxItems':
      return issues.add(
        path,
        C.LIMIT_EXCEEDED,
        `Too many items: ${Array.isArray(error.data) ? error.data.length : '?'}; at most ${limit} are allowed.`,
      );
    case 'maxProperties':
      return issues.add(path, C.LIMIT_EXCEEDED, `Too many entries: at most ${limit} are allowed.`);
    case 'minimum':
    case 'maximum': {
      const bounds = isObject(schema) ? schema : {};
      const range =
        bounds.maximum !== undefined ? `from ${String(bounds.minimum)} to ${String(bounds.maximum)}` : `at least ${String(bounds.minimum)}`;
      return issues.add(path, C.OUT_OF_RANGE, `Must be ${range}, not ${quote(error.data)}.`);
    }
    case 'uniqueItems': {
      const later = Math.max(params.i as number, params.j as number);
      return issues.add(
        [...path, later],
        C.DUPLICATE_OUTPUT,
        `Output ${quote(Array.isArray(error.data) ? error.data[later] : '')} is declared twice; remove one.`,
      );
    }
    // The property-name error above already says it; image/component rules are checked with better words below.
    case 'propertyNames':
    case 'oneOf':
    case 'false schema':
      return;
    default:
      return issues.add(path, C.INVALID_VALUE, `Invalid value: ${error.message ?? error.keyword}.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Semantic issues: names, references, links

interface ActionNode {
  id: number;
  stage: StageNode;
  index: number;
  /** The action's name, or `actions[i]` when it has none (then nothing can refer to it). */
  name: string;
  /** Declared output keys; undefined when `outputs` is malformed (the schema reports that). */
  outputs?: Set<string>;
  spec: Json;
}

interface StageNode {
  index: number;
  /** The stage's name, or `stages[i]` when it has none. */
  name: string;
  parallel: boolean;
  actions: Map<string, ActionNode>;
}

interface Model {
  stages: Map<string, StageNode>;
  actions: ActionNode[];
  /** Declared parameter names; undefined when `params` is malformed. */
  params?: Set<string>;
  /** Declared secret names; undefined when `secrets` is malformed. */
  secrets?: Set<string>;
}

interface Edge {
  from: ActionNode;
  to: ActionNode;
  path: PathSegment[];
}

class SemanticChecker {
  private readonly model: Model = { stages: new Map(), actions: [] };
  private readonly edges: Edge[] = [];

  constructor(private readonly issues: IssueList) {}

  check(doc: unknown): void {
    const spec = isObject(doc) && isObject(doc.spec) ? doc.spec : undefined;
    if (!spec) return;
    const params = spec.params === undefined ? {} : spec.params;
    if (isObject(params)) this.model.params = new Set(Object.keys(params));
    this.indexSecrets(spec.secrets);

    const specPath = ['spec'];
    this.checkDuration(spec.timeout, [...specPath, 'timeout'], true);
    if (isObject(spec.env)) {
      for (const [name, value] of Object.entries(spec.env)) this.checkStringSite(value, [...specPath, 'env', name], undefined, true);
    }
    const stages = Array.isArray(spec.stages) ? spec.stages : [];
    this.indexStages(stages);
    stages.forEach((stage, i) => {
      if (isObject(stage)) this.checkDuration(stage.timeout, [...specPath, 'stages', i, 'timeout'], true);
    });
    for (const action of this.model.actions) this.checkAction(action);
    if (Array.isArray(spec.links)) this.checkLinks(spec.links);
    this.checkCycles();
  }

  private indexSecrets(secrets: unknown): void {
    if (secrets === undefined) {
      this.model.secrets = new Set();
      return;
    }
    if (!Array.isArray(secrets)) return;
    const names = new Set<string>();
    secrets.forEach((secret, i) => {
      const name = isObject(secret) && typeof secret.name === 'string' ? secret.name : undefined;
      if (name === undefined) return;
      if (names.has(name)) {
        this.issues.add(['spec', 'secrets', i, 'name'], C.DUPLICATE_SECRET, `Secret "${name}" is declared twice; remove one.`);
      }
      names.add(name);
    });
    this.model.secrets = names;
  }

  private actionPath(action: ActionNode): PathSegment[] {
    return ['spec', 'stages', action.stage.index, 'actions', action.index];
  }

  private indexStages(stages: unknown[]): void {
    stages.forEach((raw, stageIndex) => {
      const stage = isObject(raw) ? raw : {};
      const named = typeof stage.name === 'string';
      const node: StageNode = {
        index: stageIndex,
        name: named ? (stage.name as string) : `stages[${stageIndex}]`,
        parallel: stage.sequencing === 'parallel',
        actions: new Map(),
      };
      const first = named ? this.model.stages.get(node.name) : undefined;
      if (first) {
        this.issues.add(
          ['spec', 'stages', stageIndex, 'name'],
          C.DUPLICATE_STAGE,
          `Stage name "${node.name}" is already used by stages[${first.index}]; give each stage its own name.`,
        );
      } else if (named) {
        this.model.stages.set(node.name, node);
      }
      const actions = Array.isArray(stage.actions) ? stage.actions : [];
      actions.forEach((rawAction, actionIndex) => {
        if (!isObject(rawAction)) return;
        const named = typeof rawAction.name === 'string';
        const action: ActionNode = {
          id: this.model.actions.length,
          stage: node,
          index: actionIndex,
          name: named ? (rawAction.name as string) : `actions[${actionIndex}]`,
          // A component declares its own outputs: nucleus checks references to them when the workflow is saved.
          outputs: rawAction.component !== undefined && rawAction.outputs === undefined ? undefined : declaredOutputs(rawAction.outputs),
          spec: rawAction,
        };
        // Duplicates are still checked, but references resolve to the first action of that name.
        this.model.actions.push(action);
        const earlier = named ? node.actions.get(action.name) : undefined;
        if (earlier) {
          this.issues.add(
            [...this.actionPath(action), 'name'],
            C.DUPLICATE_ACTION,
            `Action name "${action.name}" is already used by actions[${earlier.index}] of stage "${node.name}"; give each action in a stage its own name.`,
          );
        } else if (named) {
          node.actions.set(action.name, action);
        }
      });
    });
  }

  private checkAction(action: ActionNode): void {
    const path = this.actionPath(action);
    const spec = action.spec;
    const hasImage = spec.image !== undefined;
    const hasComponent = spec.component !== undefined;
    if (hasImage && hasComponent) {
      this.issues.add(path, C.IMAGE_XOR_COMPONENT, `Action "${action.name}" has both "image" and "component"; keep only one.`);
    } else if (!hasImage && !hasComponent) {
      this.issues.add(path, C.IMAGE_XOR_COMPONENT, `Action "${action.name}" has neither "image" nor "component"; add one of them.`);
    } else if (hasComponent) {
      // `command`, `args` and `env` may override the component's where its manifest allows it: nucleus checks that.
      for (const field of ['pullPolicy'] as const) {
        if (spec[field] !== undefined) {
          this.issues.add(
            [...path, field],
            C.IMAGE_OPTION_WITH_COMPONENT,
            `"${field}" applies only to actions with an "image"; the component defines its own. Remove it.`,
          );
        }
      }
    }
    for (const field of ['image', 'workingDir'] as const) {
      const value = spec[field];
      if (typeof value === 'string' && hasExpression(value)) {
        this.issues.add(
          [...path, field],
          C.EXPRESSION_NOT_ALLOWED,
          `"${field}" is used as written; expressions are replaced only in inputs, env, command and args.`,
        );
      }
    }
    this.checkDuration(spec.timeout, [...path, 'timeout'], true);
    if (isObject(spec.retries)) this.checkDuration(spec.retries.backoff, [...path, 'retries', 'backoff'], false);
    if (isObject(spec.resources)) this.checkResources(spec.resources, [...path, 'resources']);

    if (Array.isArray(spec.command)) spec.command.forEach((item, i) => this.checkStringSite(item, [...path, 'command', i], action));
    if (Array.isArray(spec.args)) spec.args.forEach((item, i) => this.checkStringSite(item, [...path, 'args', i], action));
    if (isObject(spec.env)) {
      for (const [name, value] of Object.entries(spec.env)) this.checkStringSite(value, [...path, 'env', name], action, true);
    }
    if (isObject(spec.inputs)) this.checkInputs(spec.inputs, [...path, 'inputs'], action);
  }

  /** Walks input data without recursion, so that deeply nested garbage cannot overflow the stack. */
  private checkInputs(inputs: Json, path: PathSegment[], action: ActionNode): void {
    const pending: Array<{ value: unknown; path: PathSegment[]; depth: number }> = [{ value: inputs, path, depth: 0 }];
    // YAML aliases share objects; checking each once keeps the walk linear.
    const seen = new Set<object>();
    while (pending.length > 0) {
      const { value, path: at, depth } = pending.pop()!;
      if (typeof value === 'string') {
        this.checkStringSite(value, at, action);
      } else if (Array.isArray(value) || isObject(value)) {
        if (seen.has(value)) continue;
        seen.add(value);
        if (!Array.isArray(value) && !isPlainObject(value)) {
          this.issues.add(at, C.WRONG_TYPE, 'Inputs must be JSON data: strings, numbers, booleans, null, arrays and objects.');
        } else if (depth >= MAX_INPUT_DEPTH) {
          this.issues.add(at, C.LIMIT_EXCEEDED, `Inputs nest deeper than ${MAX_INPUT_DEPTH} levels; flatten them.`);
        } else {
          const entries: Array<[PathSegment, unknown]> = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
          for (let i = entries.length - 1; i >= 0; i--)
            pending.push({ value: entries[i][1], path: [...at, entries[i][0]], depth: depth + 1 });
        }
      } else if (!(value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))) {
        this.issues.add(at, C.WRONG_TYPE, `Inputs must be JSON data; ${typeof value === 'number' ? String(value) : typeof value} is not.`);
      }
    }
  }

  /**
   * A string in which expressions are replaced; `action` is undefined at workflow level, where no output exists yet.
   * Secrets are allowed in env values only: an environment variable is where tools expect
   * credentials, and only there is the value kept out of CO_DATA, the command line and events.
   */
  private checkStringSite(value: unknown, path: PathSegment[], action: ActionNode | undefined, secretsAllowed = false): void {
    if (typeof value !== 'string' || !value.includes('${')) return;
    const { parts, problems } = parseTemplate(value);
    for (const problem of problems) this.issues.add(path, C.UNKNOWN_EXPRESSION, problem.message);
    for (const part of parts) {
      if (typeof part === 'string') continue;
      if (part.kind === 'secret') {
        if (!secretsAllowed) {
          this.issues.add(
            path,
            C.SECRET_NOT_ALLOWED,
            `${part.raw} can be used only in env values (never in inputs, command or args, which are recorded and visible); set an env variable to it and read that variable.`,
          );
        } else if (this.model.secrets && !this.model.secrets.has(part.name)) {
          this.issues.add(
            path,
            C.UNKNOWN_SECRET,
            `${part.raw} names secret "${part.name}", which is not declared; add it to spec.secrets (declared: ${list(this.model.secrets)}).`,
          );
        }
        continue;
      }
      if (part.kind === 'output' && !action) {
        this.issues.add(
          path,
          C.EXPRESSION_NOT_ALLOWED,
          `${part.raw} cannot be used in the workflow's env, which every action gets; set it in the env of the action that needs it.`,
        );
        continue;
      }
      this.checkReference(part, action, path);
    }
  }

  /** Checks that a reference names something that exists and will have run; returns the action it names. */
  private checkReference(ref: Reference, from: ActionNode | undefined, path: PathSegment[]): ActionNode | undefined {
    if (ref.kind === 'build-id' || ref.kind === 'secret') return undefined;
    if (ref.kind === 'param') {
      const declared = this.model.params;
      if (declared && !declared.has(ref.name)) {
        this.issues.add(
          path,
          C.UNKNOWN_PARAM,
          `${ref.raw} names parameter "${ref.name}", which is not declared; add it to spec.params (declared: ${list(declared)}).`,
        );
      }
      return undefined;
    }
    const stage = this.model.stages.get(ref.stage);
    if (!stage) {
      this.issues.add(
        path,
        C.UNKNOWN_STAGE,
        `${ref.raw} names stage "${ref.stage}", which does not exist; stages are: ${list(this.model.stages.keys())}.`,
      );
      return undefined;
    }
    const target = stage.actions.get(ref.action);
    if (!target) {
      this.issues.add(
        path,
        C.UNKNOWN_ACTION,
        `${ref.raw} names action "${ref.action}", which stage "${ref.stage}" does not have; its actions are: ${list(stage.actions.keys())}.`,
      );
      return undefined;
    }
    if (target.outputs && !target.outputs.has(ref.key)) {
      this.issues.add(
        path,
        C.UNDECLARED_OUTPUT,
        `${ref.raw} names output "${ref.key}", which action ${ref.stage}.${ref.action} does not declare; add it to that action's outputs (declared: ${list(target.outputs)}).`,
      );
    }
    if (from) this.checkOrder(ref, from, target, path);
    return target;
  }

  private checkOrder(ref: OutputReference, from: ActionNode, target: ActionNode, path: PathSegment[]): void {
    if (target !== from) this.edges.push({ from, to: target, path });
    const here = `${from.stage.name}.${from.name}`;
    if (target === from) {
      this.issues.add(
        path,
        C.SELF_REFERENCE,
        `${ref.raw} refers to action ${here} itself, whose outputs do not exist while it runs; use an earlier action's output.`,
      );
    } else if (target.stage.index > from.stage.index) {
      this.issues.add(
        path,
        C.FORWARD_REFERENCE,
        `${ref.raw} refers to stage "${target.stage.name}", which runs after stage "${from.stage.name}"; only outputs of earlier stages (or earlier actions of a sequential stage) can be used.`,
      );
    } else if (target.stage === from.stage && target.stage.parallel) {
      this.issues.add(
        path,
        C.PARALLEL_SIBLING_REFERENCE,
        `${ref.raw} refers to action "${target.name}", which runs at the same time as "${from.name}" in parallel stage "${from.stage.name}"; move one of them to another stage, or make the stage sequential.`,
      );
    } else if (target.stage === from.stage && target.index > from.index) {
      this.issues.add(
        path,
        C.FORWARD_REFERENCE,
        `${ref.raw} refers to action "${target.name}", which runs after "${from.name}" in stage "${from.stage.name}"; reorder the actions or use an earlier one.`,
      );
    }
  }

  private checkLinks(links: unknown[]): void {
    // Who writes each input: inline values first, then links in order; a second writer conflicts.
    const writers = new Map<string, string>();
    for (const action of this.model.actions) {
      if (!isObject(action.spec.inputs)) continue;
      for (const key of Object.keys(action.spec.inputs))
        writers.set(`${action.id}/${key}`, `the inline input ${formatPath([...this.actionPath(action), 'inputs', key])}`);
    }
    links.forEach((raw, k) => {
      if (!isObject(raw)) return;
      const at = (field: string): PathSegment[] => ['spec', 'links', k, field];
      const source = typeof raw.from === 'string' ? parseOutputPath(raw.from) : undefined;
      if (typeof raw.from === 'string' && !source) {
        this.issues.add(at('from'), C.INVALID_LINK, `${quote(raw.from)} is not an output: write stages.<stage>.<action>.outputs.<key>.`);
      }
      const target = typeof raw.to === 'string' ? parseInputPath(raw.to) : undefined;
      if (typeof raw.to === 'string' && !target) {
        this.issues.add(
          at('to'),
          C.INVALID_LINK,
          `${quote(raw.to)} is not an input: write stages.<stage>.<action>.inputs.<key>, the key starting with a letter or "_" and using only letters, digits and "_".`,
        );
      }
      const targetAction = target ? this.resolveTarget(target, at('to')) : undefined;
      if (source) this.checkReference(source, targetAction, at('from'));
      if (!targetAction || !target) return;
      const slot = `${targetAction.id}/${target.key}`;
      const writer = `links[${k}] (${source ? outputPath(source) : String(raw.from)})`;
      const previous = writers.get(slot);
      if (previous) {
        this.issues.add(at('to'), C.EVENT_CONFLICT, `${previous} and ${writer} both write ${inputPath(target)}; keep only one of them.`);
      } else {
        writers.set(slot, writer);
      }
    });
  }

  private resolveTarget(target: InputTarget, path: PathSegment[]): ActionNode | undefined {
    const stage = this.model.stages.get(target.stage);
    if (!stage) {
      this.issues.add(
        path,
        C.UNKNOWN_STAGE,
        `The link writes to stage "${target.stage}", which does not exist; stages are: ${list(this.model.stages.keys())}.`,
      );
      return undefined;
    }
    const action = stage.actions.get(target.action);
    if (!action) {
      this.issues.add(
        path,
        C.UNKNOWN_ACTION,
        `The link writes to action "${target.action}", which stage "${target.stage}" does not have; its actions are: ${list(stage.actions.keys())}.`,
      );
    }
    return action;
  }

  /** Every cycle among references (each already breaks the ordering rules) is named once, with its path. */
  private checkCycles(): void {
    const next: number[][] = this.model.actions.map(() => []);
    const edgeAt = new Map<string, Edge>();
    for (const edge of this.edges) {
      const key = `${edge.from.id}>${edge.to.id}`;
      if (edgeAt.has(key)) continue;
      edgeAt.set(key, edge);
      next[edge.from.id].push(edge.to.id);
    }
    for (const component of stronglyConnected(next)) {
      if (component.length < 2) continue;
      const cycle = shortestCycle(Math.min(...component), next, new Set(component));
      const names = cycle.map((id) => `${this.model.actions[id].stage.name}.${this.model.actions[id].name}`);
      const first = edgeAt.get(`${cycle[0]}>${cycle[1]}`)!;
      this.issues.add(first.path, C.REFERENCE_CYCLE, `References form a cycle: ${names.join(' -> ')}; remove one of these references.`);
    }
  }

  private checkDuration(value: unknown, path: PathSegment[], positive: boolean): void {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    try {
      if (parseDuration(value) === 0 && positive) {
        this.issues.add(path, C.INVALID_DURATION, `${quote(value)} is not a valid timeout: it must be above zero.`);
      }
    } catch (error) {
      this.issues.add(path, C.INVALID_DURATION, `${(error as Error).message}.`);
    }
  }

  private checkResources(resources: Json, path: PathSegment[]): void {
    const { cpu, memory } = resources;
    if (typeof cpu === 'string' || typeof cpu === 'number') {
      try {
        parseCpu(cpu);
      } catch (error) {
        this.issues.add([...path, 'cpu'], C.INVALID_CPU, `${(error as Error).message}.`);
      }
    }
    if (typeof memory === 'string' || typeof memory === 'number') {
      try {
        parseMemory(memory);
      } catch (error) {
        this.issues.add([...path, 'memory'], C.INVALID_MEMORY, `${(error as Error).message}.`);
      }
    }
  }
}

function declaredOutputs(outputs: unknown): Set<string> | undefined {
  if (outputs === undefined) return new Set();
  return Array.isArray(outputs) ? new Set(outputs.filter((key): key is string => typeof key === 'string')) : undefined;
}

function isPlainObject(value: Json): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function hasExpression(text: string): boolean {
  const { parts, problems } = parseTemplate(text);
  return problems.length > 0 || parts.some((part) => typeof part !== 'string');
}

/** Tarjan's algorithm with an explicit stack (graphs from garbage documents can be long chains). */
function stronglyConnected(next: number[][]): number[][] {
  const order = new Array<number>(next.length).fill(-1);
  const low = new Array<number>(next.length).fill(0);
  const onStack = new Array<boolean>(next.length).fill(false);
  const stack: number[] = [];
  const components: number[][] = [];
  let counter = 0;
  const visit = (node: number) => {
    order[node] = low[node] = counter++;
    stack.push(node);
    onStack[node] = true;
  };
  for (let root = 0; root < next.length; root++) {
    if (order[root] >= 0) continue;
    visit(root);
    const work: Array<{ node: number; edge: number }> = [{ node: root, edge: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.edge < next[frame.node].length) {
        const to = next[frame.node][frame.edge++];
        if (order[to] < 0) {
          visit(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack[to]) {
          low[frame.node] = Math.min(low[frame.node], order[to]);
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low[parent] = Math.min(low[parent], low[frame.node]);
      }
      if (low[frame.node] === order[frame.node]) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack.pop()!;
          onStack[member] = false;
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** The shortest cycle through `start` inside one strongly connected component: `[start, ..., start]`. */
function shortestCycle(start: number, next: number[][], members: Set<number>): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    for (const to of next[node]) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at = node; at !== start; at = parent.get(at)!) path.push(at);
        path.push(start);
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (!parent.has(to)) {
        parent.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

// ---------------------------------------------------------------------------------------------
// Normalization

export function actionKey(stage: string, action: string): string {
  return `${stage}.${action}`;
}

/** Defines a property even for keys such as `__proto__`, which plain assignment would treat specially. */
function setOwn(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The inputs each action gets, links applied (`stage.action` → inputs): a link is the same as
 * writing `${<from>}` into the target input. Expects a valid workflow.
 */
export function effectiveInputs(workflow: WorkflowDocument): Map<string, Record<string, unknown>> {
  const inputs = new Map<string, Record<string, unknown>>();
  for (const stage of workflow.spec.stages ?? []) {
    for (const action of stage.actions ?? []) inputs.set(actionKey(stage.name, action.name), { ...action.inputs });
  }
  for (const link of workflow.spec.links ?? []) {
    const source = parseOutputPath(link.from);
    const target = parseInputPath(link.to);
    const slot = target && inputs.get(actionKey(target.stage, target.action));
    if (source && target && slot) setOwn(slot, target.key, `\${${outputPath(source)}}`);
  }
  return inputs;
}

/** Defaults filled in and links folded into inputs, so that the engine reads one shape. Expects a valid workflow. */
export function normalizeWorkflow(workflow: WorkflowDocument): WorkflowDocument {
  const copy = structuredClone(workflow);
  const inputs = effectiveInputs(copy);
  const stages = (copy.spec.stages ?? []).map((stage): StageSpec => ({
    ...stage,
    sequencing: stage.sequencing ?? 'sequence',
    actions: (stage.actions ?? []).map((action): ActionSpec => {
      const normalized: ActionSpec = { ...action };
      if (normalized.image !== undefined) normalized.pullPolicy ??= 'IfNotPresent';
      if (normalized.retries) normalized.retries = { ...normalized.retries, backoff: normalized.retries.backoff ?? '10s' };
      const effective = inputs.get(actionKey(stage.name, action.name));
      if (effective && Object.keys(effective).length > 0) normalized.inputs = effective;
      return normalized;
    }),
  }));
  const { links: _folded, ...spec } = copy.spec;
  return { ...copy, spec: { ...spec, stages } };
}

/** The path of the first value nested deeper than MAX_DOCUMENT_DEPTH, found without recursion. */
function tooDeep(doc: unknown): PathSegment[] | undefined {
  const pending: Array<{ value: unknown; path: PathSegment[] }> = [{ value: doc, path: [] }];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    if (path.length >= MAX_DOCUMENT_DEPTH) return path;
    seen.add(value);
    const entries: Array<[PathSegment, unknown]> = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
    for (const [key, item] of entries) pending.push({ value: item, path: [...path, key] });
  }
  return undefined;
}

/**
 * Checks a parsed workflow document (any JSON value) and reports every problem at once, each with
 * its JSON path, a stable code and what to fix. A valid document comes back normalized.
 */
export function validateWorkflow(doc: unknown): WorkflowValidationResult {
  const deep = tooDeep(doc);
  if (deep) {
    return {
      ok: false,
      issues: [
        {
          path: formatPath(deep),
          code: C.LIMIT_EXCEEDED,
          message: `The document nests deeper than ${MAX_DOCUMENT_DEPTH} levels; flatten it.`,
        },
      ],
    };
  }
  const issues = new IssueList();
  if (!checkSchema(doc)) {
    for (const error of checkSchema.errors ?? []) schemaIssue(error, doc, issues);
  }
  new SemanticChecker(issues).check(doc);
  const found = issues.result();
  if (found.length > 0) return { ok: false, issues: found };
  return { ok: true, workflow: normalizeWorkflow(doc as WorkflowDocument) };
}
