import { Injectable } from '@nestjs/common';
import type { Principal, ResourceRef, ResourceResolver } from '@co/auth';
import { workspaceNotFound, WorkspacesService } from './workspaces.service';

/** Resolves `:ws` route parameters for `@Authorize(…, { resolver: WorkspaceResolver, param: 'ws' })`. */
@Injectable()
export class WorkspaceResolver implements ResourceResolver {
  constructor(private readonly workspaces: WorkspacesService) {}

  async resolve(name: string, _principal: Principal): Promise<ResourceRef> {
    const workspace = await this.workspaces.require(name);
    return { org: workspace.org, project: workspace.project, id: workspace.name };
  }

  notFound(name: string): Error {
    return workspaceNotFound(name);
  }
}
