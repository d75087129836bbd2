import type { ErrorObject, ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import * as semver from 'semver';
import { LineCounter, parseDocument } from 'yaml';
import { DomainError, InvalidInputError, yamlTooDeep } from '@co/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { COMPONENT_LIMITS, COMPONENT_SCHEMA, CPU_PATTERN, DURATION_PATTERN, type OutputType } from './component.schema';

/** One problem of a manifest, at its JSON path (`$.spec.outputs.greeting.type`). */
export interface ManifestIssue {
  path: string;
  message: string;
}

export type ComponentVisibility = 'public' | 'org';

/** What a workflow action may change of the component's container (the manifest's `spec.overridable`). */
export interface OverrideRule {
  /** May an action replace `spec.command`? */
  command: boolean;
  /** Which environment variables an action may set: every one (`true`) or these names. */
  env: true | string[];
}

/** A valid manifest, with defaults filled in: what is stored and what every API answers. */
export interface ComponentManifest {
  apiVersion: 'containerops.io/v1';
  kind: 'Component';
  metadata: {
    name: string;
    namespace: string;
    version: string;
    description: string;
    readme: string;
    labels: string[];
    categories: string[];
    visibility: ComponentVisibility;
    maintainers: { name: string; email?: string; url?: string }[];
  };
  spec: {
    image: string;
    command?: string[];
    env: Record<string, string>;
    resources?: { cpu?: string | number; memory?: string };
    timeout?: string | number;
    inputs?: Record<string, unknown>;
    outputs: Record<string, { type: OutputType; description?: string }>;
    overridable: OverrideRule;
  };
}

/** Aliases a YAML manifest may expand; more is taken for an alias bomb. */
const MAX_YAML_ALIASES = 100;
/**
 * Collections a YAML manifest may nest. The yaml package composes documents
 * recursively; deeper texts are refused before composing, so a crafted one cannot
 * exhaust the stack.
 */
const MAX_YAML_DEPTH = 64;
/** Problems listed in one answer; after these the rest are mostly echoes. */
const MAX_ISSUES = 50;
/** The engine's own variables (CO_DATA, CO_RUN_ID, …): a component cannot set or open them. */
const RESERVED_ENV = /^CO_/;
const DURATION = new RegExp(DURATION_PATTERN);
const SECONDS_PER_PART = [86400, 3600, 60, 1, 0.001];

const manifestAjv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true, verbose: true });
manifestAjv.addKeyword({ keyword: 'errorHint', schemaType: 'string' });
const validateShape: ValidateFunction = manifestAjv.compile(COMPONENT_SCHEMA);

/**
 * Compiles component input schemas. Strict mode stays off: authors write schemas for
 * forms and documentation (`title`, `examples`, vendor keywords), and a keyword this
 * validator does not know must not stop a publish. Formats are not checked.
 */
export function inputsValidator(): Ajv2020 {
  return new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
}
const inputsAjv = inputsValidator();

/** 400 COMPONENT.INVALID with every problem (details.errors). */
export class ManifestInvalidError extends InvalidInputError {
  constructor(readonly issues: ManifestIssue[]) {
    const first = issues.slice(0, 5).map((issue) => `${issue.path}: ${issue.message.replace(/\.$/, '')}`);
    const rest = issues.length > 5 ? '; and more (see details.errors)' : '';
    super('COMPONENT.INVALID', `The component manifest has ${issues.length} problem${issues.length === 1 ? '' : 's'}: ${first.join('; ')}${rest}.`, { errors: issues });
  }
}

export type ManifestFormat = 'yaml' | 'json' | 'object';

/**
 * Reads a manifest (YAML or JSON text, or a parsed JSON body) and checks it whole:
 * throws ManifestInvalidError listing every problem at once, 413 when it is too large.
 */
export function readManifest(body: unknown, format: ManifestFormat): ComponentManifest {
  let document = body;
  if (format !== 'object') {
    if (typeof body !== 'string' || body.trim() === '') throw new ManifestInvalidError([{ path: '$', message: 'the manifest is empty; send component.yaml as YAML or JSON' }]);
    if (Buffer.byteLength(body) > COMPONENT_LIMITS.manifestBytes) throw tooLarge(Buffer.byteLength(body));
    document = format === 'json' ? parseJson(body) : parseYaml(body);
  } else {
    const size = Buffer.byteLength(JSON.stringify(body ?? null));
    if (size > COMPONENT_LIMITS.manifestBytes) throw tooLarge(size);
  }
  return validateManifest(document);
}

/** Checks a parsed manifest; returns it normalized (defaults filled in). */
export function validateManifest(document: unknown): ComponentManifest {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new ManifestInvalidError([{ path: '$', message: 'the manifest must be a mapping with apiVersion, kind, metadata and spec' }]);
  }
  const issues: ManifestIssue[] = [];
  if (!validateShape(document)) issues.push(...shapeIssues(validateShape.errors ?? []));
  const manifest = document as ComponentManifest;
  const metadata = isObject(manifest.metadata) ? manifest.metadata : undefined;
  const spec = isObject(manifest.spec) ? manifest.spec : undefined;

  if (typeof metadata?.version === 'string') issues.push(...versionIssues(metadata.version));
  if (typeof metadata?.readme === 'string' && Buffer.byteLength(metadata.readme) > COMPONENT_LIMITS.readmeBytes) {
    issues.push({ path: '$.metadata.readme', message: `the readme takes ${Buffer.byteLength(metadata.readme)} bytes; at most ${COMPONENT_LIMITS.readmeBytes} are kept (link to longer documentation)` });
  }
  if (spec) {
    if (isObject(spec.env)) {
      for (const name of Object.keys(spec.env)) {
        if (RESERVED_ENV.test(name)) issues.push({ path: `$.spec.env${key(name)}`, message: 'variables starting with CO_ are set by the engine (the component protocol); pick another name' });
      }
    }
    if (isObject(spec.overridable) && Array.isArray(spec.overridable.env)) {
      spec.overridable.env.forEach((name, index) => {
        if (typeof name === 'string' && RESERVED_ENV.test(name)) {
          issues.push({ path: `$.spec.overridable.env[${index}]`, message: 'variables starting with CO_ are set by the engine and cannot be overridden' });
        }
      });
    }
    const seconds = durationSeconds(spec.timeout);
    if (seconds !== undefined && (seconds <= 0 || seconds > COMPONENT_LIMITS.timeoutSeconds)) {
      issues.push({ path: '$.spec.timeout', message: `timeout must be above zero and at most 14d (${COMPONENT_LIMITS.timeoutSeconds} seconds)` });
    }
    if (isObject(spec.resources) && typeof spec.resources.cpu === 'string' && new RegExp(CPU_PATTERN).test(spec.resources.cpu) && parseFloat(spec.resources.cpu) <= 0) {
      issues.push({ path: '$.spec.resources.cpu', message: 'cpu must be above zero' });
    }
    if (isObject(spec.inputs)) issues.push(...inputsIssues(spec.inputs));
  }
  if (issues.length) throw new ManifestInvalidError(issues.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).slice(0, MAX_ISSUES));
  return normalize(manifest);
}

/** Seconds of a valid timeout (a duration string or a number of seconds); undefined when absent or malformed. */
function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  return match.slice(1).reduce((total, part, index) => total + (part ? Number(part) * SECONDS_PER_PART[index] : 0), 0);
}

/** The inputs schema must be a draft 2020-12 schema that compiles, and describe an object (CO_DATA is one). */
function inputsIssues(inputs: Record<string, unknown>): ManifestIssue[] {
  const size = Buffer.byteLength(JSON.stringify(inputs));
  if (size > COMPONENT_LIMITS.inputsSchemaBytes) {
    return [{ path: '$.spec.inputs', message: `the inputs schema takes ${size} bytes as JSON; at most ${COMPONENT_LIMITS.inputsSchemaBytes} are accepted` }];
  }
  const issues: ManifestIssue[] = [];
  if (inputs.type !== 'object') issues.push({ path: '$.spec.inputs.type', message: 'the inputs schema must describe an object (type: object): a task receives its inputs as one JSON object in CO_DATA' });
  if (inputs.$schema !== undefined && inputs.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
    issues.push({ path: '$.spec.inputs.$schema', message: 'inputs must be a JSON Schema draft 2020-12: leave $schema out or set it to https://json-schema.org/draft/2020-12/schema' });
  }
  if (inputs.$id !== undefined) issues.push({ path: '$.spec.inputs.$id', message: 'leave $id out: input schemas are kept per component version and cannot refer to each other' });
  if (issues.length) return issues;
  try {
    if (!inputsAjv.validateSchema(inputs)) {
      return schemaIssues(inputsAjv.errors ?? []);
    }
    inputsAjv.compile(inputs);
  } catch (error) {
    return [{ path: '$.spec.inputs', message: `the inputs schema cannot be compiled: ${(error as Error).message} (references must point inside the schema, e.g. #/$defs/name)` }];
  } finally {
    // Ajv keeps what it compiled, keyed by the schema object; each publish brings a new one.
    inputsAjv.removeSchema(inputs);
  }
  return [];
}

/** Problems of the inputs schema itself: one per place (the meta-schema's alternatives repeat themselves). */
function schemaIssues(errors: ErrorObject[]): ManifestIssue[] {
  const byPath = new Map<string, string>();
  for (const error of errors) {
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') continue;
    const path = `$.spec.inputs${jsonPath(error.instancePath)}`;
    if (byPath.has(path)) continue;
    const allowed = error.keyword === 'enum' ? (error.params as { allowedValues?: unknown[] }).allowedValues : undefined;
    byPath.set(path, `not a valid JSON Schema (draft 2020-12): ${allowed ? `must be one of ${allowed.map((value) => JSON.stringify(value)).join(', ')}` : (error.message ?? 'invalid')}`);
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}

function versionIssues(version: string): ManifestIssue[] {
  const path = '$.metadata.version';
  if (/^[^+]+\+/.test(version) && semver.valid(version) !== null) {
    return [{ path, message: 'build metadata (+…) is not accepted: it does not order versions, so 1.0.0+a and 1.0.0+b would be the same version' }];
  }
  if (semver.valid(version) !== version) {
    return [{ path, message: `${JSON.stringify(version.slice(0, 140))} is not a semantic version: write MAJOR.MINOR.PATCH with an optional pre-release, like 1.2.0 or 2.0.0-rc.1 (no leading v)` }];
  }
  return [];
}

function normalize(manifest: ComponentManifest): ComponentManifest {
  const { metadata, spec } = manifest;
  return {
    apiVersion: manifest.apiVersion,
    kind: manifest.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      version: metadata.version,
      description: metadata.description ?? '',
      readme: metadata.readme ?? '',
      labels: metadata.labels ?? [],
      categories: metadata.categories ?? [],
      visibility: metadata.visibility ?? 'org',
      maintainers: metadata.maintainers ?? [],
    },
    spec: {
      image: spec.image,
      ...(spec.command ? { command: spec.command } : {}),
      env: spec.env ?? {},
      ...(spec.resources ? { resources: spec.resources } : {}),
      ...(spec.timeout ? { timeout: spec.timeout } : {}),
      ...(spec.inputs ? { inputs: spec.inputs } : {}),
      outputs: spec.outputs ?? {},
      overridable: {
        command: spec.overridable?.command ?? false,
        env: spec.overridable?.env === true ? true : Array.isArray(spec.overridable?.env) ? spec.overridable.env : [],
      },
    },
  };
}

function shapeIssues(errors: ErrorObject[]): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // A refused property name is reported by the keyword that refused it (pattern, not, …), with the name.
    if (error.keyword === 'propertyNames') continue;
    const issue = toIssue(error);
    const id = `${issue.path}\u0000${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}

function toIssue(error: ErrorObject): ManifestIssue {
  const path = `$${jsonPath(error.instancePath)}`;
  const hint = hintOf(error);
  if (error.propertyName !== undefined) {
    return { path: `${path}${key(error.propertyName)}`, message: hint ?? `the name is not accepted: ${error.message}` };
  }
  switch (error.keyword) {
    case 'required':
      return { path: `${path}${key(String(error.params.missingProperty))}`, message: 'is required' };
    case 'additionalProperties':
      return { path: `${path}${key(String(error.params.additionalProperty))}`, message: 'is not a field of a component manifest; remove it or check its spelling (see GET /api/v1/schemas/component)' };
    case 'maxLength':
    case 'maxItems':
    case 'maxProperties':
    case 'minItems':
    case 'minLength':
    case 'uniqueItems':
      return { path, message: error.message ?? 'is out of bounds' };
    default:
      return { path, message: hint ?? error.message ?? 'is not valid' };
  }
}

/** The `errorHint` of the schema the failing keyword sits in. */
function hintOf(error: ErrorObject): string | undefined {
  return (error.parentSchema as { errorHint?: string } | undefined)?.errorHint;
}

/** `/spec/outputs/0/type` → `.spec.outputs[0].type` */
export function jsonPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : key(segment)))
    .join('');
}

function key(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

function isObject(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkYamlDepth(text: string): void {
  const where = yamlTooDeep(text, MAX_YAML_DEPTH);
  if (!where) return;
  throw new ManifestInvalidError([{ path: '$', message: `invalid YAML at line ${where.line}, column ${where.col}: collections nest deeper than ${MAX_YAML_DEPTH} levels` }]);
}

function parseYaml(text: string): unknown {
  checkYamlDepth(text);
  const lineCounter = new LineCounter();
  let doc;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, stringKeys: true, resolveKnownTags: false, merge: false });
  } catch (error) {
    throw new ManifestInvalidError([{ path: '$', message: `the manifest cannot be read as YAML: ${(error as Error).message}` }]);
  }
  if (doc.errors.length) {
    throw new ManifestInvalidError(
      doc.errors.slice(0, 10).map((error) => {
        const where = lineCounter.linePos(error.pos[0]);
        const message = error.code === 'MULTIPLE_DOCS' ? 'the text holds more than one YAML document; send one manifest per request' : error.message.replace(/\.$/, '');
        return { path: '$', message: `invalid YAML at line ${where.line}, column ${where.col}: ${message}` };
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw new ManifestInvalidError([{ path: '$', message: `invalid YAML: ${(error as Error).message}; write the values out instead of using so many aliases` }]);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ManifestInvalidError([{ path: '$', message: `invalid JSON: ${(error as Error).message}` }]);
  }
}

function tooLarge(size: number): DomainError {
  return new DomainError(
    'COMPONENT.TOO_LARGE',
    `The manifest takes ${size} bytes; at most ${COMPONENT_LIMITS.manifestBytes} are accepted. Keep long documentation out of the readme (link to it) and make the inputs schema smaller.`,
    413,
    GrpcStatus.RESOURCE_EXHAUSTED,
    { limitBytes: COMPONENT_LIMITS.manifestBytes, sizeBytes: size },
  );
}
