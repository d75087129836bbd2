import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessGate, Authenticated, Authorize, CurrentPrincipal, ForbiddenError, scopeCondition, type Principal } from '@co/auth';
import { NotFoundError } from '@co/common';
import { CreateWorkspaceBody, UpdateWorkspaceBody } from './workspaces.dto';
import { WORKSPACE_CONTENTS, workspaceNotFound, WorkspacesService, type Workspace, type WorkspaceContents } from './workspaces.service';

/** The name recorded as the actor of a change. */
export function actorOf(principal: Principal): string {
  return principal.kind === 'user' ? principal.username : 'anonymous';
}

/**
 * Workspaces for people: create one in a project, list those the caller may see
 * (their projects' and every public one), change visibility or description, delete
 * an empty one. Another organization's private workspace answers 404.
 */
@ApiTags('workspaces')
@ApiBearerAuth()
@Controller('api/v1/workspaces')
export class WorkspacesController {
  constructor(
    private readonly workspaces: WorkspacesService,
    private readonly gate: AccessGate,
    @Inject(WORKSPACE_CONTENTS) private readonly contents: WorkspaceContents,
  ) {}

  @Post()
  @Authenticated()
  @ApiOperation({ summary: 'Create a workspace in a project (its administrators)' })
  async create(@Body() body: CreateWorkspaceBody, @CurrentPrincipal() principal: Principal): Promise<Workspace> {
    await this.gate.require(principal, 'workspace:create', { org: body.org, project: body.project }, () =>
      new NotFoundError('PROJECT.NOT_FOUND', `Project ${body.org}/${body.project} does not exist, or you may not see it.`),
    );
    return this.workspaces.create(
      { name: body.name, org: body.org, project: body.project, visibility: body.visibility ?? 'private', description: body.description ?? '' },
      actorOf(principal),
    );
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Workspaces the caller may see: those of their projects, and every public one' })
  async list(@CurrentPrincipal() principal: Principal, @Query('org') org?: string, @Query('project') project?: string): Promise<{ items: Workspace[] }> {
    const scope = await this.gate.scope(principal, 'workspace:view');
    const condition = scopeCondition(scope, principal, 'place', 'created_by');
    // Workspaces have no owner-scoped rule; the creator column holds a name, never a user id.
    return { items: await this.workspaces.list({ condition, includePublic: true, org: text(org), project: text(project) }) };
  }

  @Get(':ws')
  @Authenticated()
  @ApiOperation({ summary: 'One workspace' })
  async get(@Param('ws') name: string, @CurrentPrincipal() principal: Principal): Promise<Workspace> {
    const workspace = await this.workspaces.require(name);
    if (workspace.visibility === 'public') return workspace;
    await this.gate.require(principal, 'workspace:view', { org: workspace.org, project: workspace.project, id: name }, () => workspaceNotFound(name));
    return workspace;
  }

  @Patch(':ws')
  @Authorize('workspace:update')
  @ApiOperation({ summary: 'Change a workspace’s visibility (public or private) or description' })
  async update(@Param('ws') name: string, @Body() body: UpdateWorkspaceBody, @CurrentPrincipal() principal: Principal): Promise<Workspace> {
    await this.requireOn(name, principal, 'workspace:update');
    return this.workspaces.update(name, body, actorOf(principal));
  }

  @Delete(':ws')
  @HttpCode(204)
  @Authorize('workspace:delete')
  @ApiOperation({ summary: 'Delete an empty workspace' })
  async delete(@Param('ws') name: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.requireOn(name, principal, 'workspace:delete');
    await this.workspaces.delete(name, actorOf(principal), this.contents);
  }

  /** A public workspace is known to everybody: refusing a change to it is a 403, not a 404. */
  private async requireOn(name: string, principal: Principal, action: 'workspace:update' | 'workspace:delete'): Promise<void> {
    const workspace = await this.workspaces.require(name);
    const decision = await this.gate.access.authorize(principal, action, { org: workspace.org, project: workspace.project, id: name });
    if (decision.allowed) return;
    if (!decision.visible && workspace.visibility !== 'public') throw workspaceNotFound(name);
    throw new ForbiddenError(action, decision.reason);
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
