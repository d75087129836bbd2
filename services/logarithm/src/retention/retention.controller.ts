import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessGate, Authenticated, CurrentPrincipal, ForbiddenError, type Principal } from '@co/auth';
import { InvalidInputError, NotFoundError } from '@co/common';
import { SLUG } from '../storage/log-line';
import type { LogsExpired } from './retention.events';
import { RetentionService, type RetentionPolicy } from './retention.service';

function orgNotFound(org: string): NotFoundError {
  return new NotFoundError('LOGS.ORG_NOT_FOUND', `There is no organization "${org}" you may see.`, { org });
}

/**
 * Per-organization retention. An organization's administrators (those who may manage
 * its members: crew's catalog has no finer action for it) set its days; anyone who may
 * view the organization reads them. Platform administrators may run retention now.
 */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('api/v1/logs/retention')
export class RetentionController {
  constructor(
    private readonly retention: RetentionService,
    private readonly gate: AccessGate,
  ) {}

  @Post('run')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({ summary: 'Delete expired segments now (platform administrators); answers what was removed' })
  async run(@CurrentPrincipal() principal: Principal): Promise<LogsExpired> {
    await this.gate.require(principal, 'organization:create', { org: '' }, () => new ForbiddenError('run log retention', 'only platform administrators may'));
    return this.retention.run({ trigger: 'manual', startedBy: principal.kind === 'user' ? principal.username : 'anonymous' });
  }

  @Get(':org')
  @Authenticated()
  @ApiOperation({ summary: "An organization's log retention in days" })
  async get(@Param('org') org: string, @CurrentPrincipal() principal: Principal): Promise<RetentionPolicy> {
    this.checkSlug(org);
    await this.gate.require(principal, 'organization:view', { org }, () => orgNotFound(org));
    return this.retention.policy(org);
  }

  @Put(':org')
  @Authenticated()
  @ApiOperation({ summary: 'Set an organization\'s log retention: {"days": 1-36500}, or {"days": null} for the default' })
  async set(@Param('org') org: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<RetentionPolicy> {
    this.checkSlug(org);
    await this.gate.require(principal, 'organization:manage-members', { org }, () => orgNotFound(org));
    const days = (body as { days?: unknown } | undefined)?.days;
    if (days !== null && typeof days !== 'number') throw new InvalidInputError('LOGS.INVALID_RETENTION', 'Send {"days": <whole number of days>} or {"days": null} for the default.');
    return this.retention.setPolicy(org, days, principal.kind === 'user' ? principal.username : 'anonymous');
  }

  private checkSlug(org: string): void {
    if (!SLUG.test(org)) throw orgNotFound(org);
  }
}
