import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Authorize, CurrentPrincipal, Public, userIdOf, type Principal } from '@co/auth';
import { DomainError, PageQuery } from '@co/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
import { Transform } from 'class-transformer';
import { RunsService } from '../runs/runs.service';
import { WORKFLOW_SCHEMA } from './workflow.schema';
import { WorkflowAccess, WorkflowResolver } from './workflow-access';
import { deleteWorkflow } from './workflow-deletion';
import { WorkflowsService } from './workflows.service';
import type { DocumentFormat } from './workflow-input';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PROJECT = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function toBoolean({ value }: { value: unknown }) {
  return value === 'true' || value === true ? true : value === 'false' || value === false ? false : value;
}

class CreateQuery {
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'run must be true or false' })
  run?: boolean;
}

class DeleteQuery {
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'force must be true or false' })
  force?: boolean;
}

class ListQuery extends PageQuery {
  @IsOptional()
  @Matches(PROJECT, { message: 'project must look like <org>/<project>' })
  project?: string;

  @IsOptional()
  @IsString()
  name?: string;

}

class CopyBody {
  @Matches(NAME, { message: 'name must be lowercase letters, digits and dashes (at most 63), e.g. build-app' })
  name!: string;

  @IsOptional()
  @Matches(PROJECT, { message: 'project must look like <org>/<project>' })
  project?: string;
}

/** Reads the request body as a workflow document in the format its Content-Type names. */
export function documentFormat(req: Request): DocumentFormat {
  // Parsed by the platform's JSON body parser, unless a route gets the text to report syntax errors itself.
  if (req.is('application/json')) return typeof req.body === 'string' ? 'json' : 'object';
  if (req.is(['application/yaml', 'application/x-yaml', 'text/yaml'])) return 'yaml';
  throw new DomainError(
    'REQUEST.UNSUPPORTED_MEDIA_TYPE',
    'Send the workflow with Content-Type: application/yaml or application/json.',
    415,
    GrpcStatus.INVALID_ARGUMENT,
  );
}

@ApiTags('workflows')
@ApiBearerAuth()
@Controller('api/v1')
export class WorkflowsController {
  constructor(
    private readonly workflows: WorkflowsService,
    private readonly access: WorkflowAccess,
    private readonly runs: RunsService,
  ) {}

  @Get('schemas/workflow')
  @Public()
  @ApiOperation({ summary: 'The workflow format as JSON Schema (draft 2020-12)' })
  schema() {
    return WORKFLOW_SCHEMA;
  }

  @Post('workflows')
  @Authorize('workflow:create')
  @ApiOperation({ summary: 'Create a workflow from YAML or JSON (workflow:create in its project); ?run=true also starts a run (workflow:run)' })
  @ApiConsumes('application/yaml', 'application/json')
  @ApiBody({ description: 'A Workflow document (see GET /api/v1/schemas/workflow)' })
  async create(@Req() req: Request, @Body() body: unknown, @Query() query: CreateQuery, @CurrentPrincipal() principal: Principal) {
    const workflow = await this.access.create(principal, body, documentFormat(req), query.run === true, req.headers.authorization);
    if (!query.run) return workflow;
    const run = await this.runs.start(workflow.id, undefined, userIdOf(principal));
    return { ...workflow, run };
  }

  @Get('workflows')
  @Authorize('workflow:view')
  @ApiOperation({ summary: 'List the workflows you may view (filter by project and name; paginated)' })
  list(@Query() query: ListQuery, @CurrentPrincipal() principal: Principal) {
    return this.access.list(principal, query);
  }

  @Get('workflows/:id')
  @Authorize('workflow:view', { resolver: WorkflowResolver })
  get(@Param('id') id: string) {
    return this.workflows.get(id);
  }

  @Put('workflows/:id')
  @Authorize('workflow:edit', { resolver: WorkflowResolver })
  @ApiOperation({ summary: 'Save a new revision of the workflow (changing spec.timeout or spec.concurrency also needs workflow:edit-settings)' })
  @ApiConsumes('application/yaml', 'application/json')
  update(@Param('id') id: string, @Req() req: Request, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    return this.access.update(principal, id, body, documentFormat(req), req.headers.authorization);
  }

  @Get('workflows/:id/revisions')
  @Authorize('workflow:view', { resolver: WorkflowResolver })
  revisions(@Param('id') id: string) {
    return this.workflows.revisions(id);
  }

  @Post('workflows/:id/copy')
  @Authorize('workflow:view', { resolver: WorkflowResolver })
  @ApiOperation({ summary: 'Copy a workflow (stages, tasks, timeout) under a new name; needs workflow:copy in the target project' })
  copy(@Param('id') id: string, @Req() req: Request, @Body() body: CopyBody, @CurrentPrincipal() principal: Principal) {
    return this.access.copy(principal, id, body, req.headers.authorization);
  }

  @Post('workflows/:id/activate')
  @Authorize('workflow:activate', { resolver: WorkflowResolver })
  @HttpCode(200)
  activate(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.workflows.setActive(id, true, userIdOf(principal));
  }

  @Post('workflows/:id/deactivate')
  @Authorize('workflow:activate', { resolver: WorkflowResolver })
  @HttpCode(200)
  deactivate(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.workflows.setActive(id, false, userIdOf(principal));
  }

  @Delete('workflows/:id')
  @Authorize('workflow:delete', { resolver: WorkflowResolver })
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a workflow; 409 while a run is active unless ?force=true (stops it first)' })
  async delete(@Param('id') id: string, @Query() query: DeleteQuery, @CurrentPrincipal() principal: Principal) {
    await deleteWorkflow(this.workflows, this.runs, id, { force: query.force === true, forceHint: '?force=true', principal });
  }
}
