import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AccessGate, Authenticated, CurrentPrincipal, ForbiddenError, type Principal } from '@co/auth';
import { InvalidInputError } from '@co/common';
import { RunGcBody } from './gc.dto';
import { type GcReport, type GcRunResult, GcService, KEPT_REPORTS } from './gc.service';

/**
 * Garbage collection on demand, for platform administrators. There is no `gc` action:
 * the check is the platform-level `organization:create` (on no organization), which
 * only platform administrators hold.
 */
@ApiTags('gc')
@ApiBearerAuth()
@Controller('api/v1/gc')
export class GcController {
  constructor(
    private readonly gc: GcService,
    private readonly gate: AccessGate,
  ) {}

  @Post()
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({ summary: 'Collect unreferenced blobs and abandoned uploads now (platform administrators); dryRun reports only' })
  async run(@Body() body: RunGcBody, @CurrentPrincipal() principal: Principal): Promise<GcRunResult> {
    await this.requireAdmin(principal);
    return this.gc.run({ dryRun: body?.dryRun === true, trigger: 'manual', startedBy: principal.kind === 'user' ? principal.username : 'anonymous' });
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'The latest garbage collection reports, newest first (platform administrators)' })
  @ApiQuery({ name: 'limit', required: false, description: `How many reports (1-${KEPT_REPORTS}, default 20)` })
  async list(@CurrentPrincipal() principal: Principal, @Query('limit') limit?: string): Promise<{ items: GcReport[] }> {
    await this.requireAdmin(principal);
    let count = 20;
    if (limit !== undefined) {
      count = Number(limit);
      if (!/^\d+$/.test(limit) || count < 1 || count > KEPT_REPORTS) {
        throw new InvalidInputError('GC.LIMIT_INVALID', `"limit" must be a whole number from 1 to ${KEPT_REPORTS}.`);
      }
    }
    return { items: await this.gc.reports(count) };
  }

  private requireAdmin(principal: Principal): Promise<void> {
    const refused = () => new ForbiddenError('run garbage collection', 'only platform administrators may');
    return this.gate.require(principal, 'organization:create', { org: '' }, refused);
  }
}
