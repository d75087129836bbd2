import { InvalidInputError } from '@co/common';
import { withDefaultStages } from './default-stages';
import type { WorkflowDocument } from './workflow-definition';
import { parseWorkflowText } from './workflow-parser';
import { validateWorkflow } from './workflow-validator';

/** `yaml`/`json`: the body is text; `object`: already parsed (JSON bodies, copies). */
export type DocumentFormat = 'yaml' | 'json' | 'object';

/**
 * Turns a request body into a valid, normalized workflow document, or throws a 400
 * listing every problem with its JSON path (`WORKFLOW.INVALID`).
 */
export function readWorkflowDocument(body: unknown, format: DocumentFormat, options: { fillDefaultStages: boolean }): WorkflowDocument {
  let document: unknown = body;
  if (format !== 'object') {
    if (typeof body !== 'string') {
      throw new InvalidInputError('WORKFLOW.PARSE_ERROR', 'The request body is empty; send the workflow document.');
    }
    document = parseWorkflowText(body, format);
  }
  if (options.fillDefaultStages) document = withDefaultStages(document);
  const result = validateWorkflow(document);
  if (!result.ok) {
    const count = result.issues.length;
    throw new InvalidInputError(
      'WORKFLOW.INVALID',
      `The workflow has ${count} problem${count === 1 ? '' : 's'}: ${result.issues
        .slice(0, 5)
        .map((issue) => `${issue.path}: ${issue.message}`)
        .join('; ')}${count > 5 ? `; and ${count - 5} more (see details.issues)` : ''}.`,
      { issues: result.issues },
    );
  }
  return result.workflow;
}
