import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AccessGate, Authenticated, Authorize, CurrentPrincipal, scopeCondition, type Principal } from '@co/auth';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { RunLogResolver, runLogsNotFound } from '../access/run-log.resolver';
import { RunOwners } from '../access/run-owners';
import { isoTime } from '../storage/log-line';
import { parseFilter, parsePage, QUERY_LIMITS, type LogFilter } from './log-filter';
import { LogQuery, type LogPage } from './log-query';

const QUERY_HELP =
  'Filters: stream, source, task, label.<name>, since/until (unix ns or RFC 3339), contains, regex (≤ 256 characters); direction=forward|backward; ' +
  `limit (≤ ${QUERY_LIMITS.maxLimit}, default ${QUERY_LIMITS.defaultLimit}); cursor (the previous page's next)`;

/**
 * Reading stored lines: one run's (or one task's), or any the caller may see. Every read
 * is authorized by the lines' org and project (`log:view`); another organization's run
 * answers 404 as if it did not exist.
 */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('api/v1')
export class LogsController {
  constructor(
    private readonly query: LogQuery,
    private readonly owners: RunOwners,
    private readonly gate: AccessGate,
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
  ) {}

  @Get('logs')
  @Authenticated()
  @ApiOperation({ summary: `Lines the caller may view, by org, project, run, task and more. ${QUERY_HELP}` })
  async search(@Query() raw: Record<string, unknown>, @CurrentPrincipal() principal: Principal): Promise<LogPage> {
    const filter = parseFilter(raw);
    const page = parsePage(raw);
    const scope = scopeCondition(await this.gate.scope(principal, 'log:view'), principal, 'f.place', 'NULL');
    return this.query.page(filter, page, scope);
  }

  @Get('runs/:run/logs')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: `A run's lines in time order. ${QUERY_HELP}` })
  async runLogs(@Param('run') run: string, @Query() raw: Record<string, unknown>): Promise<LogPage> {
    return this.query.page(await this.runFilter(run, raw), parsePage(raw));
  }

  @Get('runs/:run/tasks/:task/logs')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: `One task's lines (task = <stage>.<action>) in time order. ${QUERY_HELP}` })
  async taskLogs(@Param('run') run: string, @Param('task') task: string, @Query() raw: Record<string, unknown>): Promise<LogPage> {
    return this.query.page(await this.runFilter(run, raw, task), parsePage(raw));
  }

  @Get('runs/:run/logs/download')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: "A run's whole log as a gzip text file: <time> <task> <stream> <text> per line" })
  async downloadRun(@Param('run') run: string, @Res() response: Response): Promise<void> {
    await this.download(run, undefined, response);
  }

  @Get('runs/:run/tasks/:task/logs/download')
  @Authorize('log:view', { resolver: RunLogResolver, param: 'run' })
  @ApiOperation({ summary: "One task's whole log as a gzip text file: <time> <task> <stream> <text> per line" })
  async downloadTask(@Param('run') run: string, @Param('task') task: string, @Res() response: Response): Promise<void> {
    await this.download(run, task, response);
  }

  /** The run's own organization and run pinned, whatever the query string says. */
  private async runFilter(run: string, raw: Record<string, unknown>, task?: string): Promise<LogFilter> {
    const owner = await this.owners.owner(run);
    if (!owner) throw runLogsNotFound(run);
    const filter = parseFilter({ ...raw, org: undefined, project: undefined, run: undefined, task: undefined });
    return { ...filter, org: owner.org, project: owner.project, run, ...(task !== undefined ? { task } : {}) };
  }

  /**
   * Streams the log page by page (QUERY_LIMITS.maxLimit lines at a time) through gzip:
   * memory stays flat however long the log is, and a client that goes away ends the
   * reading. Line breaks inside a line are written as `\n` so that every entry stays one
   * line of the file.
   */
  private async download(run: string, task: string | undefined, response: Response): Promise<void> {
    const filter = await this.runFilter(run, {}, task);
    const name = `${run}${task ? `-${task}` : ''}.log.gz`.replace(/[^A-Za-z0-9._-]/g, '_');
    response.status(200);
    response.setHeader('Content-Type', 'application/gzip');
    response.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    const query = this.query;
    async function* text(): AsyncGenerator<string> {
      let cursor: string | undefined;
      do {
        const page = await query.page(filter, { direction: 'forward', limit: QUERY_LIMITS.maxLimit, cursor });
        let chunk = '';
        for (const line of page.lines) {
          chunk += `${isoTime(line.ts)} ${line.labels.task ?? '-'} ${line.labels.stream ?? '-'} ${line.text.replace(/\r?\n/g, '\\n')}\n`;
        }
        if (chunk) yield chunk;
        cursor = page.next;
      } while (cursor);
    }
    // A failure after the status was sent destroys the response: the client sees an incomplete download, not a short one.
    await pipeline(Readable.from(text()), createGzip({ level: 6 }), response).catch((error: NodeJS.ErrnoException) => {
      // A client that goes away is no failure of ours.
      if (error.code !== 'ERR_STREAM_PREMATURE_CLOSE') this.runtime.logger.warn({ err: error, run }, 'a log download failed');
    });
  }
}
