import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authorize, CurrentPrincipal, userIdOf, type Principal } from '@co/auth';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Max, Min } from 'class-validator';
import { injectTraceHeaders } from '@co/telemetry';
import { ENGINE_SETTINGS } from '../engine/engine.tokens';
import type { EngineSettings } from '../engine/engine-settings';
import { callerName } from '../grpc-caller';
import { WorkflowResolver } from '../workflows/workflow-access';
import { RunResolver } from './run-access';
import { readTaskLogs } from './task-log-reading';
import { RunsService } from './runs.service';

class StartRunBody {
  @IsOptional()
  @IsObject({ message: 'params must be an object of name: value' })
  params?: Record<string, unknown>;

  @IsOptional()
  @IsObject({ message: 'secrets must be an object of NAME: value' })
  secrets?: Record<string, unknown>;
}

class RerunBody {
  @IsOptional()
  @IsObject({ message: 'secrets must be an object of NAME: value' })
  secrets?: Record<string, unknown>;
}

class PageQuery {
  @IsOptional()
  @Transform(({ value }) => Number(value))
  @IsInt({ message: 'page must be a positive integer' })
  @Min(1, { message: 'page must be a positive integer' })
  page?: number;
}

class LogQuery {
  @IsOptional()
  @Transform(({ value }) => Number(value))
  @IsInt({ message: 'attempt must be a positive integer' })
  @Min(1, { message: 'attempt must be a positive integer' })
  attempt?: number;

  /** The `next` of the previous page (`after` is the older name). */
  @IsOptional()
  @IsString()
  cursor?: string;

  @IsOptional()
  @IsString()
  after?: string;

  @IsOptional()
  @IsIn(['forward', 'backward'], { message: 'direction must be forward or backward' })
  direction?: string;

  @IsOptional()
  @IsString()
  since?: string;

  @IsOptional()
  @IsString()
  until?: string;

  @IsOptional()
  @IsString()
  contains?: string;

  @IsOptional()
  @IsString()
  regex?: string;

  @IsOptional()
  @IsIn(['stdout', 'stderr'], { message: 'stream must be stdout or stderr' })
  stream?: string;

  @IsOptional()
  @IsIn(['container', 'engine'], { message: 'source must be container or engine' })
  source?: string;

  @IsOptional()
  @Transform(({ value }) => Number(value))
  @IsInt({ message: 'limit must be an integer between 1 and 5000' })
  @Min(1, { message: 'limit must be an integer between 1 and 5000' })
  @Max(5000, { message: 'limit must be an integer between 1 and 5000' })
  limit?: number;
}

@ApiTags('runs')
@ApiBearerAuth()
@Controller('api/v1')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
  ) {}

  @Post('workflows/:id/runs')
  @Authorize('workflow:run', { resolver: WorkflowResolver })
  @ApiOperation({ summary: 'Start a run: optional parameter overrides, and the values of the secrets the workflow declares' })
  start(@Param('id') id: string, @Body() body: StartRunBody, @CurrentPrincipal() principal: Principal) {
    return this.runs.start(id, body.params, userIdOf(principal), body.secrets);
  }

  @Get('workflows/:id/runs')
  @Authorize('workflow:view', { resolver: WorkflowResolver })
  @ApiOperation({ summary: 'Runs of a workflow, newest first, 50 per page' })
  list(@Param('id') id: string, @Query() query: PageQuery) {
    return this.runs.list(id, query.page);
  }

  @Get('runs/:id')
  @Authorize('workflow:view', { resolver: RunResolver })
  get(@Param('id') id: string) {
    return this.runs.get(id);
  }

  @Post('runs/:id/stop')
  @Authorize('workflow:run', { resolver: RunResolver })
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop a run: SIGTERM, a grace period, then SIGKILL; idempotent' })
  stop(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.runs.stop(id, userIdOf(principal), callerName(principal));
  }

  @Post('runs/:id/rerun')
  @Authorize('workflow:run', { resolver: RunResolver })
  @ApiOperation({ summary: "A new run from this run's own snapshot of the workflow (secrets are given again)" })
  rerun(@Param('id') id: string, @Body() body: RerunBody, @CurrentPrincipal() principal: Principal) {
    return this.runs.rerun(id, userIdOf(principal), body?.secrets);
  }

  @Get('runs/:id/events')
  @Authorize('workflow:view', { resolver: RunResolver })
  @ApiOperation({ summary: "The run's event history" })
  events(@Param('id') id: string) {
    return this.runs.events(id);
  }

  @Get('runs/:id/tasks/:task/logs')
  @Authorize('workflow:view', { resolver: RunResolver })
  @ApiOperation({ summary: 'Log lines of one task (`<stage>.<action>`), read from logarithm: engine and container lines, oldest first' })
  taskLogs(@Param('id') id: string, @Param('task') task: string, @Query() query: LogQuery, @Req() req: Request) {
    const forwarded = Object.fromEntries(Object.entries(query).map(([name, value]) => [name, value === undefined ? undefined : String(value)]));
    const trace = injectTraceHeaders({});
    return readTaskLogs(this.runs, this.settings.logarithmUrl, id, task, forwarded, {
      authorization: req.headers.authorization,
      traceparent: trace.traceparent ?? header(req, 'traceparent'),
      tracestate: trace.tracestate ?? header(req, 'tracestate'),
    });
  }
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
