import { CommonErrorCodes, InvalidInputError } from '@co/common';
import type { pilotage } from '@co/proto';
import { PROJECT_PATTERN, RESOURCE_NAME_PATTERN } from './workflow.schema';
import type { DocumentFormat } from './workflow-input';
import type { RevisionView, WorkflowsService, WorkflowView } from './workflows.service';

/**
 * Between containerops.pilotage.v1 messages and WorkflowsService: requests are checked
 * as the REST controller's DTOs check them (same REQUEST.INVALID answer), views become
 * messages. In requests 0 and "" mean "not given".
 */

const NAME = new RegExp(RESOURCE_NAME_PATTERN);
const PROJECT = new RegExp(PROJECT_PATTERN);

type WorkflowListItem = Awaited<ReturnType<WorkflowsService['list']>>['items'][number];

/** Throws REQUEST.INVALID (INVALID_ARGUMENT) listing the problems, as the REST ValidationPipe does. */
export function rejectInvalid(problems: string[]): void {
  if (problems.length === 0) return;
  throw new InvalidInputError(CommonErrorCodes.REQUEST_INVALID, `The request is invalid: ${problems.join('; ')}.`, { violations: problems });
}

/** `format` of CreateWorkflow/UpdateWorkflow: "yaml" (also when empty) or "json"; the document is text. */
export function documentFormatOf(format: string): DocumentFormat {
  const normalized = format.trim().toLowerCase();
  if (normalized === '' || normalized === 'yaml') return 'yaml';
  if (normalized === 'json') return 'json';
  rejectInvalid([`format must be "yaml" or "json" (got "${format}")`]);
  return 'yaml';
}

export function listFilterOf(request: pilotage.ListWorkflowsRequest): Parameters<WorkflowsService['list']>[0] {
  const problems: string[] = [];
  if (request.project && !PROJECT.test(request.project)) problems.push('project must look like <org>/<project>');
  if (!Number.isInteger(request.page) || request.page < 0) problems.push('page must be a positive integer');
  if (!Number.isInteger(request.pageSize) || request.pageSize < 0 || request.pageSize > 100) {
    problems.push('page_size must be an integer between 1 and 100');
  }
  rejectInvalid(problems);
  return {
    project: request.project || undefined,
    name: request.name || undefined,
    page: request.page || undefined,
    pageSize: request.pageSize || undefined,
  };
}

export function copyTargetOf(request: pilotage.CopyWorkflowRequest): { name: string; project?: string } {
  const problems: string[] = [];
  if (!NAME.test(request.name)) problems.push('name must be lowercase letters, digits and dashes (at most 63), e.g. build-app');
  if (request.project && !PROJECT.test(request.project)) problems.push('project must look like <org>/<project>');
  rejectInvalid(problems);
  return { name: request.name, project: request.project || undefined };
}

export function toWorkflowMessage(view: WorkflowView): pilotage.Workflow {
  return {
    id: view.id,
    name: view.name,
    project: view.project,
    revision: view.revision,
    active: view.active,
    createdBy: view.createdBy,
    copiedFrom: view.copiedFrom,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    definitionJson: JSON.stringify(view.definition),
    warnings: (view.warnings ?? []).map((issue) => ({ path: issue.path, code: issue.code, message: issue.message })),
  };
}

export function toWorkflowSummaryMessage(item: WorkflowListItem): pilotage.WorkflowSummary {
  return {
    id: item.id,
    name: item.name,
    project: item.project,
    revision: item.revision,
    active: item.active,
    createdBy: item.createdBy,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

export function toRevisionMessage(view: RevisionView): pilotage.Revision {
  return {
    revision: view.revision,
    createdAt: view.createdAt,
    createdBy: view.createdBy,
    definitionJson: JSON.stringify(view.definition),
  };
}
