import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authorize, Public, userIdOf } from '@co/auth';
import { pilotage } from '@co/proto';
import { callerOf } from '../grpc-caller';

function authorizationOf(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get('authorization')?.[0];
  return value === undefined ? undefined : String(value);
}
import { RunsService } from '../runs/runs.service';
import { WORKFLOW_SCHEMA } from './workflow.schema';
import { WorkflowAccess, WorkflowResolver } from './workflow-access';
import { deleteWorkflow } from './workflow-deletion';
import {
  copyTargetOf,
  documentFormatOf,
  listFilterOf,
  toRevisionMessage,
  toWorkflowMessage,
  toWorkflowSummaryMessage,
} from './workflow-grpc.mapping';
import { WorkflowsService } from './workflows.service';

/**
 * containerops.pilotage.v1.WorkflowService: the REST workflows API over gRPC, with the
 * same access rules (credentials in the `authorization` metadata). Domain errors reach
 * the caller through the global exception filter (status + `error-code`).
 */
@Controller()
@pilotage.WorkflowServiceControllerMethods()
export class WorkflowsGrpcController implements pilotage.WorkflowServiceController {
  constructor(
    private readonly workflows: WorkflowsService,
    private readonly access: WorkflowAccess,
    private readonly runs: RunsService,
  ) {}

  @Authorize('workflow:create')
  async createWorkflow(request: pilotage.CreateWorkflowRequest, metadata?: Metadata): Promise<pilotage.CreateWorkflowResponse> {
    const principal = callerOf(metadata);
    const workflow = await this.access.create(principal, request.document, documentFormatOf(request.format), request.run, authorizationOf(metadata));
    const run = request.run ? await this.runs.start(workflow.id, undefined, userIdOf(principal)) : undefined;
    return { workflow: toWorkflowMessage(workflow), run };
  }

  @Authorize('workflow:view', { resolver: WorkflowResolver })
  async getWorkflow(request: pilotage.GetWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.get(request.id));
  }

  @Authorize('workflow:view')
  async listWorkflows(request: pilotage.ListWorkflowsRequest, metadata?: Metadata): Promise<pilotage.ListWorkflowsResponse> {
    const page = await this.access.list(callerOf(metadata), listFilterOf(request));
    return { items: page.items.map(toWorkflowSummaryMessage), page: page.page, pageSize: page.pageSize, total: page.total };
  }

  @Authorize('workflow:edit', { resolver: WorkflowResolver })
  async updateWorkflow(request: pilotage.UpdateWorkflowRequest, metadata?: Metadata): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.access.update(callerOf(metadata), request.id, request.document, documentFormatOf(request.format), authorizationOf(metadata)));
  }

  @Authorize('workflow:view', { resolver: WorkflowResolver })
  async listRevisions(request: pilotage.ListRevisionsRequest): Promise<pilotage.ListRevisionsResponse> {
    return { items: (await this.workflows.revisions(request.id)).map(toRevisionMessage) };
  }

  @Authorize('workflow:view', { resolver: WorkflowResolver })
  async copyWorkflow(request: pilotage.CopyWorkflowRequest, metadata?: Metadata): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.access.copy(callerOf(metadata), request.id, copyTargetOf(request), authorizationOf(metadata)));
  }

  @Authorize('workflow:activate', { resolver: WorkflowResolver })
  async activateWorkflow(request: pilotage.ActivateWorkflowRequest, metadata?: Metadata): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.setActive(request.id, true, userIdOf(callerOf(metadata))));
  }

  @Authorize('workflow:activate', { resolver: WorkflowResolver })
  async deactivateWorkflow(request: pilotage.DeactivateWorkflowRequest, metadata?: Metadata): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.setActive(request.id, false, userIdOf(callerOf(metadata))));
  }

  @Authorize('workflow:delete', { resolver: WorkflowResolver })
  async deleteWorkflow(request: pilotage.DeleteWorkflowRequest, metadata?: Metadata): Promise<pilotage.DeleteWorkflowResponse> {
    await deleteWorkflow(this.workflows, this.runs, request.id, { force: request.force, forceHint: 'force: true', principal: callerOf(metadata) });
    return {};
  }

  @Public()
  getWorkflowSchema(): pilotage.GetWorkflowSchemaResponse {
    return { json: JSON.stringify(WORKFLOW_SCHEMA) };
  }
}
