import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, InvalidInputError } from '@co/common';
import { EVENT_LIMITS } from '@co/eventstore';
import { withDefaultStages } from './default-stages';
import type { ValidationIssue, WorkflowDocument } from './workflow-definition';
import { parseWorkflowText } from './workflow-parser';
import { validateWorkflow } from './workflow-validator';

/** `yaml`/`json`: the body is text; `object`: already parsed (JSON bodies, copies). */
export type DocumentFormat = 'yaml' | 'json' | 'object';

/**
 * The most a saved workflow may take as JSON (defaults filled in, YAML aliases expanded). Every
 * save is one event, and every run records the workflow once more together with its parameters
 * (which the workflow holds too); this keeps both well under the event store's limit per event.
 */
export const WORKFLOW_MAX_BYTES = Math.floor((EVENT_LIMITS.dataBytes - 16 * 1024) / 2);

/**
 * Turns a request body into a valid, normalized workflow document, or throws a 400
 * listing every problem with its JSON path (`WORKFLOW.INVALID`), or a 413 when the
 * workflow is too large to save (`WORKFLOW.TOO_LARGE`).
 */
export function readWorkflowDocument(body: unknown, format: DocumentFormat, options: { fillDefaultStages: boolean }): WorkflowDocument {
  let document: unknown = body;
  if (format !== 'object') {
    if (typeof body !== 'string') {
      throw new InvalidInputError('WORKFLOW.PARSE_ERROR', 'The request body is empty; send the workflow document.');
    }
    document = parseWorkflowText(body, format);
  }
  // A small text can still expand (YAML aliases) into more than can be saved; no use checking all of it.
  if (jsonBytesOver(document, WORKFLOW_MAX_BYTES)) throw tooLarge();
  document = withoutPins(document);
  if (options.fillDefaultStages) document = withDefaultStages(document);
  const result = validateWorkflow(document);
  if (!result.ok) throw invalidWorkflow(result.issues);
  const size = Buffer.byteLength(JSON.stringify(result.workflow));
  if (size > WORKFLOW_MAX_BYTES) throw tooLarge(size);
  return result.workflow;
}

/** 400 WORKFLOW.INVALID listing every problem (details.issues), the first few in the message. */
export function invalidWorkflow(issues: ValidationIssue[]): InvalidInputError {
  const listed = issues.filter((issue) => issue.code !== 'WORKFLOW.TOO_MANY_ISSUES');
  const truncated = listed.length < issues.length;
  const count = truncated ? `more than ${listed.length} problems` : `${listed.length} problem${listed.length === 1 ? '' : 's'}`;
  const first = listed.slice(0, 5).map((issue) => `${issue.path}: ${issue.message.replace(/\.$/, '')}`);
  const rest = listed.length > 5 || truncated ? '; and more (see details.issues)' : '';
  return new InvalidInputError('WORKFLOW.INVALID', `The workflow has ${count}: ${first.join('; ')}${rest}.`, { issues });
}

/**
 * `pinned` is written by pilotage at every save; one given in a document (a definition
 * read back and sent again) is dropped, and the component resolved afresh.
 */
export function withoutPins(document: unknown): unknown {
  const spec = (document as { spec?: { stages?: unknown } } | null)?.spec;
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.stages)) return document;
  let changed = false;
  const stages = spec.stages.map((stage: unknown) => {
    const actions = (stage as { actions?: unknown } | null)?.actions;
    if (!Array.isArray(actions)) return stage;
    return {
      ...(stage as object),
      actions: actions.map((action: unknown) => {
        if (action === null || typeof action !== 'object' || Array.isArray(action) || !('pinned' in action)) return action;
        changed = true;
        const { pinned: _dropped, ...rest } = action as Record<string, unknown>;
        return rest;
      }),
    };
  });
  return changed ? { ...(document as object), spec: { ...spec, stages } } : document;
}

function tooLarge(size?: number): DomainError {
  const measured = size === undefined ? `more than ${WORKFLOW_MAX_BYTES} bytes` : `${size} bytes`;
  return new DomainError(
    'WORKFLOW.TOO_LARGE',
    `The workflow takes ${measured} as JSON (YAML aliases expanded, defaults filled in); at most ${WORKFLOW_MAX_BYTES} bytes can be saved. Make inputs and params smaller, or use fewer YAML aliases.`,
    413,
    GrpcStatus.RESOURCE_EXHAUSTED,
    { limitBytes: WORKFLOW_MAX_BYTES, ...(size === undefined ? {} : { sizeBytes: size }) },
  );
}

/**
 * Whether `value` written as JSON takes more than `limit` bytes. Walks without recursion and
 * stops as soon as the limit is passed, so that an expanded alias bomb costs little.
 */
function jsonBytesOver(value: unknown, limit: number): boolean {
  let bytes = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') bytes += Buffer.byteLength(JSON.stringify(item));
    else if (Array.isArray(item)) {
      bytes += 2 + Math.max(item.length - 1, 0);
      for (const element of item) pending.push(element);
    } else if (item !== null && typeof item === 'object') {
      const entries = Object.entries(item);
      bytes += 2 + Math.max(entries.length - 1, 0);
      for (const [key, element] of entries) {
        bytes += Buffer.byteLength(JSON.stringify(key)) + 1;
        pending.push(element);
      }
    } else bytes += String(item ?? null).length;
    if (bytes > limit) return true;
  }
  return false;
}
