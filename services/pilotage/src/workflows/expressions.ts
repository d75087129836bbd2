import type { ParamValue } from './workflow-definition';

/**
 * Expressions inside the strings of inputs, env, command and args:
 * `${BUILD_ID}`, `${params.<name>}` and `${stages.<stage>.<action>.outputs.<key>}`;
 * and, in env values only, `${{ secrets.<NAME> }}` (double braces, as GitHub Actions
 * writes it, so that a secret stands out from data when a workflow is read).
 * A string may hold several, mixed with text; `$${` stands for a literal `${`.
 */

/** Stage and action names; no dots, since dots separate the parts of an expression. */
export const STEP_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,62}$';
/** Output keys, parameter names and input keys that links write. */
export const KEY_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
/** Secret names: like environment variable names. */
export const SECRET_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';

const STEP = '[A-Za-z][A-Za-z0-9_-]*';
const KEY = '[A-Za-z_][A-Za-z0-9_]*';
const OUTPUT_PATH_RE = new RegExp(`^stages\\.(${STEP})\\.(${STEP})\\.outputs\\.(${KEY})$`);
const INPUT_PATH_RE = new RegExp(`^stages\\.(${STEP})\\.(${STEP})\\.inputs\\.(${KEY})$`);
const PARAM_RE = new RegExp(`^params\\.(${KEY})$`);
const SECRET_RE = new RegExp(`^secrets\\.(${KEY})$`);

export interface BuildIdReference {
  kind: 'build-id';
  /** The expression as written, `${...}` included. */
  raw: string;
}
export interface ParamReference {
  kind: 'param';
  name: string;
  raw: string;
}
export interface OutputReference {
  kind: 'output';
  stage: string;
  action: string;
  key: string;
  raw: string;
}
export interface SecretReference {
  kind: 'secret';
  name: string;
  raw: string;
}
export type Reference = BuildIdReference | ParamReference | OutputReference | SecretReference;

/** Where a link writes: `stages.<stage>.<action>.inputs.<key>`. */
export interface InputTarget {
  stage: string;
  action: string;
  key: string;
}

/** A string split into literal text and references. */
export type TemplatePart = string | Reference;

export interface ExpressionSyntaxProblem {
  raw: string;
  message: string;
}

const HINT =
  'use ${BUILD_ID}, ${params.<name>}, ${stages.<stage>.<action>.outputs.<key>} or (in env values) ${{ secrets.<NAME> }}, or write $${ for a literal ${';

export class ExpressionError extends Error {
  constructor(
    readonly raw: string,
    message: string,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/** A reference whose value is not there when interpolating: a missing parameter or an output the action did not produce. */
export class UnresolvedReferenceError extends Error {
  constructor(readonly reference: Reference) {
    super(
      reference.kind === 'output'
        ? `${reference.raw} has no value: action ${reference.stage}.${reference.action} did not produce output ${reference.key}`
        : `${reference.raw} has no value`,
    );
    this.name = 'UnresolvedReferenceError';
  }
}

/** Reads the content of one `${...}` or `${{ ... }}`; whitespace around it is allowed. */
function parseExpression(raw: string): Reference | undefined {
  if (raw.startsWith('${{')) {
    const secret = SECRET_RE.exec(raw.slice(3, -2).trim());
    return secret ? { kind: 'secret', name: secret[1], raw } : undefined;
  }
  const body = raw.slice(2, -1).trim();
  if (body === 'BUILD_ID') return { kind: 'build-id', raw };
  const param = PARAM_RE.exec(body);
  if (param) return { kind: 'param', name: param[1], raw };
  const output = OUTPUT_PATH_RE.exec(body);
  if (output) return { kind: 'output', stage: output[1], action: output[2], key: output[3], raw };
  return undefined;
}

/** Splits a string into text and references, collecting every malformed expression instead of stopping at the first. */
export function parseTemplate(text: string): { parts: TemplatePart[]; problems: ExpressionSyntaxProblem[] } {
  const parts: TemplatePart[] = [];
  const problems: ExpressionSyntaxProblem[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$', i);
    if (start < 0) break;
    literal += text.slice(i, start);
    if (text.startsWith('$${', start)) {
      literal += '${';
      i = start + 3;
    } else if (text.startsWith('${', start)) {
      // `${{ secrets.NAME }}` closes with `}}`, every other expression with `}`.
      const doubled = text.startsWith('${{', start);
      const closer = doubled ? '}}' : '}';
      const close = text.indexOf(closer, start + (doubled ? 3 : 2));
      if (close < 0) {
        const raw = text.slice(start);
        const fix = doubled ? 'write ${{ secrets.<NAME> }}' : 'close it, or write $${ for a literal ${';
        problems.push({ raw, message: `Expression ${raw} is not closed with ${closer}; ${fix}` });
        literal += raw;
        i = text.length;
        break;
      }
      const raw = text.slice(start, close + closer.length);
      const reference = parseExpression(raw);
      if (reference) {
        if (literal) parts.push(literal);
        literal = '';
        parts.push(reference);
      } else {
        const hint = doubled ? 'the only double-brace expression is ${{ secrets.<NAME> }}' : HINT;
        problems.push({ raw, message: `Unknown expression ${raw}; ${hint}` });
        literal += raw;
      }
      i = close + closer.length;
    } else {
      literal += '$';
      i = start + 1;
    }
  }
  literal += text.slice(i);
  if (literal) parts.push(literal);
  return { parts, problems };
}

/** The references in a string, in order. Throws ExpressionError for the first malformed expression. */
export function findReferences(text: string): Reference[] {
  const { parts, problems } = parseTemplate(text);
  if (problems.length > 0) throw new ExpressionError(problems[0].raw, problems[0].message);
  return parts.filter((part): part is Reference => typeof part !== 'string');
}

/** `stages.<stage>.<action>.outputs.<key>`, bare or wrapped in `${...}` (the `from` of a link). */
export function parseOutputPath(text: string): OutputReference | undefined {
  const body = text.startsWith('${') && text.endsWith('}') ? text.slice(2, -1).trim() : text;
  const match = OUTPUT_PATH_RE.exec(body);
  return match ? { kind: 'output', stage: match[1], action: match[2], key: match[3], raw: `\${${body}}` } : undefined;
}

/** `stages.<stage>.<action>.inputs.<key>` (the `to` of a link). */
export function parseInputPath(text: string): InputTarget | undefined {
  const match = INPUT_PATH_RE.exec(text);
  return match ? { stage: match[1], action: match[2], key: match[3] } : undefined;
}

export function outputPath(ref: Pick<OutputReference, 'stage' | 'action' | 'key'>): string {
  return `stages.${ref.stage}.${ref.action}.outputs.${ref.key}`;
}

export function inputPath(target: InputTarget): string {
  return `stages.${target.stage}.${target.action}.inputs.${target.key}`;
}

export interface InterpolationContext {
  buildId: number;
  params: Record<string, ParamValue>;
  outputs: (stage: string, action: string, key: string) => string | undefined;
  /**
   * The run's secret values. A declared secret the run was not given (an optional one)
   * is "", as GitHub Actions does; absent (not a secret site), a secret is unresolved.
   */
  secrets?: Record<string, string>;
}

function resolve(reference: Reference, context: InterpolationContext): string {
  let value: ParamValue | undefined;
  if (reference.kind === 'build-id') value = context.buildId;
  // Own properties only: `${params.constructor}` must not find Object.prototype.constructor.
  else if (reference.kind === 'param') value = Object.hasOwn(context.params, reference.name) ? context.params[reference.name] : undefined;
  else if (reference.kind === 'secret') value = context.secrets && (Object.hasOwn(context.secrets, reference.name) ? context.secrets[reference.name] : '');
  else value = context.outputs(reference.stage, reference.action, reference.key);
  if (value === undefined) throw new UnresolvedReferenceError(reference);
  return String(value);
}

/**
 * Replaces expressions in every string of a JSON value (objects and arrays deeply; keys are left alone).
 * The result keeps the value's shape: a string that is exactly one expression stays a string.
 * Throws ExpressionError for a malformed expression and UnresolvedReferenceError for a missing value.
 */
export function interpolate<T>(value: T, context: InterpolationContext): T;
export function interpolate(value: unknown, context: InterpolationContext): unknown {
  if (typeof value === 'string') {
    const { parts, problems } = parseTemplate(value);
    if (problems.length > 0) throw new ExpressionError(problems[0].raw, problems[0].message);
    return parts.map((part) => (typeof part === 'string' ? part : resolve(part, context))).join('');
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, context));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a `__proto__` key stays data.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, context)]));
  }
  return value;
}
