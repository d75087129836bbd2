import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AccessGate, Authenticated, CurrentPrincipal, ForbiddenError, type Principal } from '@co/auth';
import { LOGARITHM_SETTINGS, type LogarithmSettings } from '../logarithm-settings';
import { LogIngest } from './log-ingest';
import { readPushBody } from './push-body';
import { pushedLines } from './push-lines';

/**
 * HTTP ingest: Loki's push API (so Promtail, Grafana Agent, Vector or curl can ship
 * here) and the same JSON at logarithm's own path. The caller needs `log:push` on the
 * organization and project every stream names; nothing of a refused push is stored.
 */
@ApiTags('logs')
@ApiBearerAuth()
@Controller()
export class PushController {
  constructor(
    @Inject(LOGARITHM_SETTINGS) private readonly settings: LogarithmSettings,
    private readonly ingest: LogIngest,
    private readonly gate: AccessGate,
  ) {}

  @Post('loki/api/v1/push')
  @HttpCode(204)
  @Authenticated()
  @ApiOperation({ summary: "Push lines in Loki's JSON shape (Bearer API token, or Basic with the token as password); 204 once stored" })
  lokiPush(@Req() request: Request, @CurrentPrincipal() principal: Principal): Promise<void> {
    return this.push(request, principal);
  }

  @Post('api/v1/logs/push')
  @HttpCode(204)
  @Authenticated()
  @ApiOperation({ summary: 'Push lines (Loki JSON, or {"lines":[{ts, labels, text}]}); 204 once stored' })
  logsPush(@Req() request: Request, @CurrentPrincipal() principal: Principal): Promise<void> {
    return this.push(request, principal);
  }

  private async push(request: Request, principal: Principal): Promise<void> {
    const lines = pushedLines(await readPushBody(request, this.settings.maxPushBytes));
    const places = new Map<string, { org: string; project: string }>();
    for (const line of lines) places.set(`${line.labels.org}/${line.labels.project}`, { org: line.labels.org, project: line.labels.project });
    for (const [place, resource] of places) {
      // Whether or not the place exists, the answer is the same 403: a push reveals nothing.
      const allowed = await this.gate.allows(principal, 'log:push', resource);
      if (!allowed) throw new ForbiddenError('push logs', `your token has no log:push right in ${place}`);
    }
    await this.ingest.store(lines);
  }
}
