import { Injectable } from '@nestjs/common';
import { InvalidInputError, NotFoundError } from '@co/common';
import { AccessGate, scopeCondition, userIdOf, type Principal, type ResourceRef, type ResourceResolver } from '@co/auth';
import type { WorkflowDocument } from './workflow-definition';
import { parseDuration } from './durations';
import { QuotaGate } from '../quotas/quota-gate';
import type { DocumentFormat } from './workflow-input';
import { workflowNotFound, WorkflowsService, type WorkflowView } from './workflows.service';

/** `org/project` as crew names it: the organization and the project inside it. */
export function projectRef(project: string): { org: string; project: string } {
  const slash = project.indexOf('/');
  return { org: project.slice(0, slash), project: project.slice(slash + 1) };
}

/** A workflow as an access decision sees it: its project, and its creator as owner. */
export function workflowResource(workflow: { id?: string; project: string; createdBy?: string }): ResourceRef {
  return { ...projectRef(workflow.project), id: workflow.id, owner: workflow.createdBy };
}

export function projectNotFound(project: string): NotFoundError {
  return new NotFoundError(
    'PROJECT.NOT_FOUND',
    `No project ${project} that you can see; metadata.project must name an existing <org>/<project> you belong to.`,
    { project },
  );
}

/** Loads the workflow named by a route parameter or gRPC field for the auth guard. */
@Injectable()
export class WorkflowResolver implements ResourceResolver {
  constructor(private readonly workflows: WorkflowsService) {}

  async resolve(id: string): Promise<ResourceRef> {
    return workflowResource(await this.workflows.load(id));
  }

  notFound(id: string): Error {
    return workflowNotFound(id);
  }
}

/**
 * The checks a route decorator cannot make before the body is read: the project a
 * workflow is created or copied in, the parts of the workflow an update changes, and
 * which workflows a list may show.
 */
@Injectable()
export class WorkflowAccess {
  constructor(
    private readonly workflows: WorkflowsService,
    private readonly gate: AccessGate,
    private readonly quotas: QuotaGate,
  ) {}

  /**
   * workflow:create in the document's project; with `run`, workflow:run there too; then
   * the organization's and project's workflow quota. All before anything is saved.
   */
  create(principal: Principal, body: unknown, format: DocumentFormat, run = false, authorization?: string): Promise<WorkflowView> {
    return this.workflows.create(body, format, {
      actor: userIdOf(principal),
      authorization,
      admit: async (definition) => {
        await this.requireInProject(principal, 'workflow:create', definition.metadata.project);
        if (run) {
          // The document is the body: there is no room for secret values, so refuse before saving.
          const required = (definition.spec.secrets ?? []).filter((secret) => secret.required).map((secret) => secret.name);
          if (required.length > 0) {
            throw new InvalidInputError(
              'RUN.INVALID_SECRETS',
              `missing required secrets: ${required.join(', ')}. ?run=true cannot carry secrets; create the workflow, then start it with POST /api/v1/workflows/{id}/runs and "secrets": {"NAME": "value"}.`,
              { missing: required, undeclared: [], invalid: [] },
            );
          }
          const resource = workflowResource({ project: definition.metadata.project, createdBy: userIdOf(principal) });
          await this.gate.require(principal, 'workflow:run', resource, () => projectNotFound(definition.metadata.project));
        }
        await this.quotas.checkWorkflowCreate(definition.metadata.project);
      },
    });
  }

  /**
   * workflow:edit was checked by the guard; a change of spec.timeout or spec.concurrency
   * also needs workflow:edit-settings. (The format has no triggers yet: workflow:edit-triggers
   * applies once it has.)
   */
  update(principal: Principal, id: string, body: unknown, format: DocumentFormat, authorization?: string): Promise<WorkflowView> {
    return this.workflows.update(
      id,
      body,
      format,
      userIdOf(principal),
      async (current, next) => {
        if (settingsChanged(current.definition, next)) {
          await this.gate.require(principal, 'workflow:edit-settings', workflowResource(current), () => workflowNotFound(id));
        }
      },
      authorization,
    );
  }

  /** workflow:view on the source was checked by the guard; workflow:copy is needed in the target project, and room in its quota. */
  copy(principal: Principal, id: string, target: { name: string; project?: string }, authorization?: string): Promise<WorkflowView> {
    return this.workflows.copy(id, target, {
      actor: userIdOf(principal),
      authorization,
      admit: async (definition) => {
        await this.requireInProject(principal, 'workflow:copy', definition.metadata.project);
        await this.quotas.checkWorkflowCreate(definition.metadata.project);
      },
    });
  }

  /** Only the workflows the caller may view; `total` counts those. */
  async list(principal: Principal, filter: Parameters<WorkflowsService['list']>[0]) {
    const scope = await this.gate.scope(principal, 'workflow:view');
    return this.workflows.list(filter, scopeCondition(scope, principal, 'project', 'created_by'));
  }

  private requireInProject(principal: Principal, action: 'workflow:create' | 'workflow:copy', project: string): Promise<void> {
    const resource = workflowResource({ project, createdBy: userIdOf(principal) });
    return this.gate.require(principal, action, resource, () => projectNotFound(project));
  }
}

/** Both documents are validated: their timeouts parse. `30s` and `30` are the same setting. */
function settingsChanged(current: WorkflowDocument, next: WorkflowDocument): boolean {
  const timeout = (document: WorkflowDocument) => (document.spec.timeout === undefined ? undefined : parseDuration(document.spec.timeout));
  return timeout(current) !== timeout(next) || (current.spec.concurrency ?? null) !== (next.spec.concurrency ?? null);
}
