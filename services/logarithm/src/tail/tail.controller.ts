import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AUTH_CONTEXT, Authorize, type AuthContext } from '@co/auth';
import { InvalidInputError } from '@co/common';
import { parseOffset, TailHub } from './tail-hub';
import { SseSink } from './sse-sink';
import { RunLogResolver } from '../access/run-log.resolver';
import type { TailTarget } from './run-tail';

/** `<stage>.<action>`, as the `task` label holds it. */
export const TASK_NAME = /^[^\s./][^\s/]{0,190}$/;

/**
 * Live tails as Server-Sent Events: the run's (or one task's) lines from the offset
 * (`Last-Event-ID`, else `?after=`), then each line as it is stored, until the run
 * ends. See docs/logs.md, "Live tail".
 */
@ApiTags('logs')
@Controller('api/v1/runs/:run')
export class TailController {
  constructor(private readonly hub: TailHub) {}

  @Get('logs/stream')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: "Live tail of a run's log (Server-Sent Events); resume with Last-Event-ID or ?after=<seq>" })
  @ApiProduces('text/event-stream')
  streamRun(
    @Param('run') run: string,
    @Query('after') after: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): void {
    this.stream(req, res, run, undefined, after, lastEventId);
  }

  @Get('tasks/:task/logs/stream')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: "Live tail of one task's log (Server-Sent Events); resume with Last-Event-ID or ?after=<seq>" })
  @ApiProduces('text/event-stream')
  streamTask(
    @Param('run') run: string,
    @Param('task') task: string,
    @Query('after') after: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): void {
    if (!TASK_NAME.test(task)) throw new InvalidInputError('LOGS.INVALID_TASK', `${JSON.stringify(task.slice(0, 64))} is not a task name; tasks are named <stage>.<action>.`);
    this.stream(req, res, run, task, after, lastEventId);
  }

  private stream(req: Request, res: Response, run: string, task: string | undefined, after: string | undefined, lastEventId: string | undefined): void {
    // A reconnecting EventSource repeats the URL it started with: its Last-Event-ID is the later offset.
    const offset = lastEventId !== undefined && lastEventId !== '' ? parseOffset(lastEventId, 'Last-Event-ID') : parseOffset(after, 'after');
    const owner = (req as unknown as Record<symbol, AuthContext | undefined>)[AUTH_CONTEXT]?.resource;
    const target: TailTarget = { org: owner!.org, project: owner!.project!, run, ...(task ? { task } : {}) };
    // Refused (503) before the event stream's headers go out; follow() checks again in the same tick.
    this.hub.admit();
    const tail = this.hub.follow(target, offset, new SseSink(res));
    res.on('close', () => tail.close());
  }
}
