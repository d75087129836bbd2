import { InvalidInputError } from '@co/common';
import type { nucleus } from '@co/proto';
import { findReferences } from './expressions';
import type { ActionSpec, PinnedComponent, ValidationIssue, WorkflowDocument } from './workflow-definition';
import { invalidWorkflow } from './workflow-input';

/** What asks nucleus (a NucleusClient, or a stand-in in tests). */
export interface ComponentValidator {
  validateWorkflow(request: nucleus.ValidateWorkflowRequest, authorization: string | undefined): Promise<nucleus.ValidateWorkflowResponse>;
}

export interface PinnedWorkflow {
  workflow: WorkflowDocument;
  /** Deprecated component versions in use, and the like: the workflow is saved anyway. */
  warnings: ValidationIssue[];
}

/** `$.spec.stages[i].actions[j]` */
function actionPath(stage: number, action: number): string {
  return `$.spec.stages[${stage}].actions[${action}]`;
}

/** Strings of an action's inputs, env, command and args, where expressions may sit. */
function strings(value: unknown, into: string[] = []): string[] {
  const pending: unknown[] = [value];
  while (pending.length) {
    const item = pending.pop();
    if (typeof item === 'string') into.push(item);
    else if (Array.isArray(item)) pending.push(...item);
    else if (item !== null && typeof item === 'object') pending.push(...Object.values(item));
  }
  return into;
}

/**
 * The request nucleus' ValidateWorkflow checks: every `component:` action with its
 * inputs, the outputs later actions (and links, folded into inputs) refer to, and what it
 * overrides. Expects a valid, normalized workflow.
 */
export function componentUses(workflow: WorkflowDocument): nucleus.ComponentActionUse[] {
  const referenced = new Map<string, Set<string>>();
  for (const stage of workflow.spec.stages) {
    for (const action of stage.actions) {
      for (const text of strings([action.inputs, action.env, action.command, action.args])) {
        for (const ref of findReferences(text)) {
          if (ref.kind !== 'output') continue;
          const key = `${ref.stage}\u0000${ref.action}`;
          if (!referenced.has(key)) referenced.set(key, new Set());
          referenced.get(key)!.add(ref.key);
        }
      }
    }
  }
  const uses: nucleus.ComponentActionUse[] = [];
  workflow.spec.stages.forEach((stage, i) =>
    stage.actions.forEach((action, j) => {
      if (action.component === undefined) return;
      uses.push({
        path: actionPath(i, j),
        reference: action.component,
        inputsJson: action.inputs === undefined ? '' : JSON.stringify(action.inputs),
        referencedOutputs: [...(referenced.get(`${stage.name}\u0000${action.name}`) ?? [])].sort(),
        overridesCommand: action.command !== undefined || action.args !== undefined,
        envOverrides: Object.keys(action.env ?? {}),
        commandOverrides: [...(action.command !== undefined ? ['command'] : []), ...(action.args !== undefined ? ['args'] : [])],
      });
    }),
  );
  return uses;
}

/**
 * Resolves the workflow's component actions through nucleus and pins each one into the
 * document (`pinned`: exact version, image by digest, command, env defaults, timeout,
 * resources, outputs), so that every run of this revision runs exactly that, whatever
 * happens to the component later. A workflow without component actions is returned as
 * it is, without asking nucleus. Problems → 400 WORKFLOW.INVALID listing them all.
 */
export async function pinComponents(workflow: WorkflowDocument, validator: ComponentValidator, authorization: string | undefined): Promise<PinnedWorkflow> {
  const uses = componentUses(workflow);
  if (uses.length === 0) return { workflow, warnings: [] };
  const answer = await validator.validateWorkflow({ actions: uses }, authorization);
  if (answer.errors.length > 0) {
    throw invalidWorkflow(answer.errors.map((issue) => ({ path: issue.path, code: issue.code, message: issue.message })));
  }
  const byPath = new Map(answer.actions.map((action) => [action.path, action]));
  const warnings: ValidationIssue[] = [];
  const stages = workflow.spec.stages.map((stage, i) => ({
    ...stage,
    actions: stage.actions.map((action, j): ActionSpec => {
      if (action.component === undefined) return action;
      const pinned = byPath.get(actionPath(i, j));
      if (!pinned) {
        throw new InvalidInputError('WORKFLOW.INVALID', `The component registry did not resolve ${action.component} at ${actionPath(i, j)}; save again.`);
      }
      warnings.push(...pinned.warnings.map((issue) => ({ path: issue.path, code: issue.code, message: issue.message })));
      return { ...action, pinned: toPinned(pinned) };
    }),
  }));
  return { workflow: { ...workflow, spec: { ...workflow.spec, stages } }, warnings };
}

function toPinned(action: nucleus.PinnedComponentAction): PinnedComponent {
  return {
    component: `${action.namespace}/${action.name}`,
    version: action.version,
    image: action.pinnedImage,
    digest: action.imageDigest,
    ...(action.command.length ? { command: action.command } : {}),
    env: action.env,
    ...(action.timeout ? { timeout: /^\d+$/.test(action.timeout) ? Number(action.timeout) : action.timeout } : {}),
    ...(action.resourcesJson ? { resources: JSON.parse(action.resourcesJson) as PinnedComponent['resources'] } : {}),
    outputs: Object.keys(action.outputs).sort(),
  };
}
