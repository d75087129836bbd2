import { status as GrpcStatus } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { AccessGate, ForbiddenError, UnauthenticatedError } from '@co/auth';
import { CommonErrorCodes, DomainError } from '@co/common';
import { RegistryAccess, RegistryUnauthorizedError, type RegistryCaller } from '../access/registry-access';
import { workspaceNotFound, WorkspacesService, type Workspace } from '../workspaces/workspaces.service';

export type ArtifactAction = 'pull' | 'push' | 'delete';
export type ArtifactKind = 'chart' | 'image';

/** 401 with a Basic challenge: the chart and binary APIs take crew's credentials. */
export class ArtifactUnauthorizedError extends DomainError {
  constructor(message: string) {
    super(CommonErrorCodes.UNAUTHENTICATED, message, 401, GrpcStatus.UNAUTHENTICATED);
  }
}

export interface ArtifactCaller {
  caller: RegistryCaller;
  workspace: Workspace;
  /** Name recorded as the author of a change. */
  actor: string;
}

/**
 * Who may do what in a workspace's chart repository and binary artifacts. The routes
 * are public at the guard and call `require` first:
 * - allowed (anyone pulls from a public workspace) → the workspace;
 * - no credentials → 401 with a Basic challenge, whether or not the workspace exists;
 * - bad credentials → 401;
 * - a workspace the caller may not see (or none) → 404 WORKSPACE.NOT_FOUND;
 * - a workspace the caller sees but may not change → 403.
 */
@Injectable()
export class ArtifactAccess {
  constructor(
    private readonly registry: RegistryAccess,
    private readonly workspaces: WorkspacesService,
    private readonly gate: AccessGate,
  ) {}

  async require(authorization: string | undefined, response: Response, workspaceName: string, action: ArtifactAction, kind: ArtifactKind): Promise<ArtifactCaller> {
    let caller: RegistryCaller;
    try {
      caller = await this.registry.authenticatePerson(authorization);
    } catch (error) {
      if (error instanceof RegistryUnauthorizedError) throw this.unauthorized(response, `${error.message}.`);
      if (error instanceof UnauthenticatedError) throw this.unauthorized(response, `${error.description}.`);
      throw error;
    }
    const workspace = await this.workspaces.find(workspaceName);
    if (workspace && (await this.registry.permitsInWorkspace(caller, workspaceName, action, kind))) {
      return { caller, workspace, actor: this.registry.actorOf(caller) };
    }
    if (caller.kind !== 'principal') {
      throw this.unauthorized(response, `Sign in to ${action} here: send Basic credentials (your username and a personal API token).`);
    }
    if (!workspace) throw workspaceNotFound(workspaceName);
    if (workspace.visibility === 'public') throw new ForbiddenError(`${kind}:${action}`, `your roles in ${workspace.org}/${workspace.project} do not include it`);
    const decision = await this.gate.access.authorize(caller.principal, `${kind}:${action}`, { org: workspace.org, project: workspace.project, id: workspace.name });
    if (!decision.visible) throw workspaceNotFound(workspaceName);
    throw new ForbiddenError(`${kind}:${action}`, decision.reason || `your roles in ${workspace.org}/${workspace.project} do not include it`);
  }

  private unauthorized(response: Response, message: string): ArtifactUnauthorizedError {
    response.setHeader('WWW-Authenticate', this.registry.basicChallenge());
    return new ArtifactUnauthorizedError(`Authentication required: ${message}`);
  }
}
