import { Controller } from '@nestjs/common';
import { pilotage } from '@co/proto';
import { RunsService } from '../runs/runs.service';
import { WORKFLOW_SCHEMA } from './workflow.schema';
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
 * containerops.pilotage.v1.WorkflowService: the REST workflows API over gRPC. Domain
 * errors reach the caller through the global exception filter (status + `error-code`).
 */
@Controller()
@pilotage.WorkflowServiceControllerMethods()
export class WorkflowsGrpcController implements pilotage.WorkflowServiceController {
  constructor(
    private readonly workflows: WorkflowsService,
    private readonly runs: RunsService,
  ) {}

  async createWorkflow(request: pilotage.CreateWorkflowRequest): Promise<pilotage.CreateWorkflowResponse> {
    const workflow = await this.workflows.create(request.document, documentFormatOf(request.format));
    const run = request.run ? await this.runs.start(workflow.id, undefined) : undefined;
    return { workflow: toWorkflowMessage(workflow), run };
  }

  async getWorkflow(request: pilotage.GetWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.get(request.id));
  }

  async listWorkflows(request: pilotage.ListWorkflowsRequest): Promise<pilotage.ListWorkflowsResponse> {
    const page = await this.workflows.list(listFilterOf(request));
    return { items: page.items.map(toWorkflowSummaryMessage), page: page.page, pageSize: page.pageSize, total: page.total };
  }

  async updateWorkflow(request: pilotage.UpdateWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.update(request.id, request.document, documentFormatOf(request.format)));
  }

  async listRevisions(request: pilotage.ListRevisionsRequest): Promise<pilotage.ListRevisionsResponse> {
    return { items: (await this.workflows.revisions(request.id)).map(toRevisionMessage) };
  }

  async copyWorkflow(request: pilotage.CopyWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.copy(request.id, copyTargetOf(request)));
  }

  async activateWorkflow(request: pilotage.ActivateWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.setActive(request.id, true));
  }

  async deactivateWorkflow(request: pilotage.DeactivateWorkflowRequest): Promise<pilotage.Workflow> {
    return toWorkflowMessage(await this.workflows.setActive(request.id, false));
  }

  async deleteWorkflow(request: pilotage.DeleteWorkflowRequest): Promise<pilotage.DeleteWorkflowResponse> {
    await deleteWorkflow(this.workflows, this.runs, request.id, { force: request.force, forceHint: 'force: true' });
    return {};
  }

  getWorkflowSchema(): pilotage.GetWorkflowSchemaResponse {
    return { json: JSON.stringify(WORKFLOW_SCHEMA) };
  }
}
