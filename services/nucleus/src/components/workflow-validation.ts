import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Principal } from '@co/auth';
import { DomainError, InvalidInputError } from '@co/common';
import { inputsValidator, jsonPath } from './component-manifest';
import type { ComponentsService, ResolvedComponentView } from './components.service';

/** What ValidateWorkflow accepts: one workflow's component actions (a workflow holds far fewer). */
export const WORKFLOW_VALIDATION_LIMITS = { actions: 1000, inputsBytes: 256 * 1024, pathLength: 200, referenceLength: 300, names: 200 } as const;

/** One `component:` action of a workflow, as pilotage sends it. */
export interface ComponentActionUse {
  /** `$.spec.stages[0].actions[1]` */
  path: string;
  /** `<namespace>/<name>@<range>` */
  reference: string;
  inputs?: Record<string, unknown>;
  referencedOutputs: string[];
  /** The action sets `command` or `args`. */
  overridesCommand: boolean;
  /**
   * Which of the two it sets, when the caller says: each one the component does not
   * allow is reported at its own path (`….args`). Without it, at `….command`.
   */
  commandFields?: CommandField[];
  envOverrides: string[];
}

/** The fields of an action that replace a component's command. */
export type CommandField = 'command' | 'args';

export interface WorkflowIssue {
  path: string;
  code: string;
  message: string;
}

export interface PinnedComponentAction {
  path: string;
  resolved: ResolvedComponentView;
  warnings: WorkflowIssue[];
}

export interface WorkflowValidation {
  actions: PinnedComponentAction[];
  errors: WorkflowIssue[];
}

const REFERENCE = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)@(.+)$/;
/** A string value that is an expression (or holds one) is only known at run time. */
const EXPRESSION = /\$\{/;

/** Refuses a request that is not one workflow's actions (a 400 for the whole call, not an issue). */
export function checkUses(uses: ComponentActionUse[]): void {
  const limits = WORKFLOW_VALIDATION_LIMITS;
  if (uses.length > limits.actions) {
    throw new InvalidInputError('REQUEST.INVALID', `At most ${limits.actions} component actions are checked at once; this request has ${uses.length}.`);
  }
  for (const use of uses) {
    if (!use.path.startsWith('$') || use.path.length > limits.pathLength) {
      throw new InvalidInputError('REQUEST.INVALID', `path must be a JSON path of at most ${limits.pathLength} characters starting with $, like $.spec.stages[0].actions[1].`);
    }
    if (use.reference.length > limits.referenceLength) {
      throw new InvalidInputError('REQUEST.INVALID', `reference at ${use.path} is longer than ${limits.referenceLength} characters.`);
    }
    if (use.commandFields?.some((field) => field !== 'command' && field !== 'args')) {
      throw new InvalidInputError('REQUEST.INVALID', `command fields at ${use.path} must be command or args.`);
    }
    if (use.referencedOutputs.length > limits.names || use.envOverrides.length > limits.names) {
      throw new InvalidInputError('REQUEST.INVALID', `At most ${limits.names} referenced outputs and ${limits.names} environment overrides per action (at ${use.path}).`);
    }
  }
}

/**
 * Resolves and checks every component action of a workflow with the caller's view of
 * the registry (a component they may not see is unknown), and reports all problems
 * at once, each at its JSON path:
 * - the reference must name a component that exists and a range some version that is
 *   not yanked matches (COMPONENT.NOT_FOUND, COMPONENT.NO_MATCHING_VERSION, COMPONENT.RANGE_INVALID);
 * - `inputs` must satisfy the component's inputs schema (COMPONENT.INPUTS_INVALID); a
 *   string holding a `${...}` expression is only known at run time, so the schema is
 *   not checked at that value (or inside it);
 * - every referenced output must be declared in `spec.outputs` (COMPONENT.UNDECLARED_OUTPUT);
 * - `command` and `env` may be set only where `spec.overridable` allows (COMPONENT.OVERRIDE_NOT_ALLOWED).
 * A deprecated version resolves, with a warning (COMPONENT.DEPRECATED).
 */
export async function validateWorkflowComponents(components: ComponentsService, principal: Principal, uses: ComponentActionUse[]): Promise<WorkflowValidation> {
  checkUses(uses);
  const ajv = inputsValidator();
  const compiled = new Map<string, ValidateFunction>();
  const resolvedBy = new Map<string, Promise<ResolvedComponentView | WorkflowIssue>>();
  const result: WorkflowValidation = { actions: [], errors: [] };

  for (const use of uses) {
    const at = `${use.path}.component`;
    const match = REFERENCE.exec(use.reference);
    if (!match) {
      result.errors.push({
        path: at,
        code: 'COMPONENT.REFERENCE_INVALID',
        message: `${JSON.stringify(use.reference.slice(0, 100))} is not a component reference; write <namespace>/<name>@<version or range>, such as default/greeter@^1.`,
      });
      continue;
    }
    const [, namespace, name, range] = match;
    if (!resolvedBy.has(use.reference)) {
      resolvedBy.set(
        use.reference,
        components.resolve(principal, namespace, name, range).catch((error: unknown) => {
          if (error instanceof DomainError && error.httpStatus < 500) return { path: '', code: error.code, message: error.message };
          throw error;
        }),
      );
    }
    const resolved = await resolvedBy.get(use.reference)!;
    if (!('version' in resolved)) {
      result.errors.push({ ...resolved, path: at });
      continue;
    }
    const errors: WorkflowIssue[] = [];
    if (resolved.inputs) {
      const key = `${resolved.namespace}/${resolved.name}@${resolved.version}`;
      let validate = compiled.get(key);
      if (!validate) {
        validate = ajv.compile(resolved.inputs);
        compiled.set(key, validate);
      }
      const inputs = use.inputs ?? {};
      if (!validate(inputs)) errors.push(...inputIssues(`${use.path}.inputs`, inputs, validate.errors ?? [], key));
    }
    const declared = resolved.outputs;
    for (const output of use.referencedOutputs) {
      if (!Object.prototype.hasOwnProperty.call(declared, output)) {
        errors.push({
          path: `${use.path}.outputs.${output}`,
          code: 'COMPONENT.UNDECLARED_OUTPUT',
          message: `Output "${output}" is referred to, but ${resolved.namespace}/${resolved.name}@${resolved.version} does not declare it; its outputs are: ${Object.keys(declared).join(', ') || 'none'}.`,
        });
      }
    }
    if (!resolved.overridable.command) {
      // Without the list of fields, "command or args" is reported at command, naming both.
      const fields: CommandField[] = use.commandFields?.length ? [...new Set(use.commandFields)].sort() : use.overridesCommand ? ['command'] : [];
      const remove = (field: CommandField) => (use.commandFields?.length ? field : 'command and args');
      for (const field of fields) {
        errors.push({
          path: `${use.path}.${field}`,
          code: 'COMPONENT.OVERRIDE_NOT_ALLOWED',
          message: `${resolved.namespace}/${resolved.name}@${resolved.version} does not let actions replace its command or arguments (spec.overridable.command is false); remove ${remove(field)}.`,
        });
      }
    }
    const allowedEnv = resolved.overridable.env;
    for (const variable of use.envOverrides) {
      if (allowedEnv === true || allowedEnv.includes(variable)) continue;
      errors.push({
        path: `${use.path}.env.${variable}`,
        code: 'COMPONENT.OVERRIDE_NOT_ALLOWED',
        message: `${resolved.namespace}/${resolved.name}@${resolved.version} does not let actions set ${variable} (spec.overridable.env allows: ${allowedEnv.join(', ') || 'none'}); remove it.`,
      });
    }
    result.errors.push(...errors);
    if (errors.length) continue;
    const warnings: WorkflowIssue[] = resolved.deprecated
      ? [
          {
            path: at,
            code: 'COMPONENT.DEPRECATED',
            message: `${resolved.namespace}/${resolved.name}@${resolved.version} is deprecated${resolved.deprecationMessage ? `: ${resolved.deprecationMessage}` : ''}.`,
          },
        ]
      : [];
    result.actions.push({ path: use.path, resolved, warnings });
  }
  return result;
}

/** Schema errors at their JSON paths, leaving out those at (or inside) an expression. */
function inputIssues(base: string, inputs: Record<string, unknown>, errors: ErrorObject[], component: string): WorkflowIssue[] {
  const issues: WorkflowIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (underExpression(inputs, error.instancePath)) continue;
    // Alternatives (anyOf/oneOf) report each branch; the summary says it once.
    let path = `${base}${jsonPath(error.instancePath)}`;
    let message = error.message ?? 'is not valid';
    if (error.keyword === 'required') {
      path = `${path}.${String(error.params.missingProperty)}`;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties') {
      path = `${path}.${String(error.params.additionalProperty)}`;
      message = 'is not an input of this component';
    } else if (error.keyword === 'enum') {
      message = `must be one of ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((value) => JSON.stringify(value)).join(', ')}`;
    }
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push({ path, code: 'COMPONENT.INPUTS_INVALID', message: `${message} (inputs schema of ${component}).` });
  }
  return issues.slice(0, 50);
}

function underExpression(inputs: unknown, pointer: string): boolean {
  let value: unknown = inputs;
  const segments = pointer ? pointer.split('/').slice(1).map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~')) : [];
  for (const segment of ['', ...segments]) {
    if (segment !== '') value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[segment] : undefined;
    if (typeof value === 'string' && EXPRESSION.test(value)) return true;
  }
  return false;
}
