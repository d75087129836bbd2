import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { AccessGate, Authenticated, CurrentPrincipal, ForbiddenError, type Principal } from '@co/auth';
import { InvalidInputError, NotFoundError } from '@co/common';
import { AuditTrail, MAX_PAGE_SIZE, type AuditPage } from './audit-trail';

export class AuditQueryParams {
  /** Only this organization's records. */
  @IsOptional()
  @IsString()
  @MaxLength(191)
  org?: string;

  /** A user id or a username. */
  @IsOptional()
  @IsString()
  @MaxLength(191)
  user?: string;

  /** An action as recorded: `organization:create`, `POST /api/v1/auth/login`. */
  @IsOptional()
  @IsString()
  @MaxLength(191)
  action?: string;

  /** ISO 8601 time, inclusive. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 time such as 2026-01-31T00:00:00Z' })
  since?: string;

  /** ISO 8601 time, exclusive. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 time such as 2026-01-31T00:00:00Z' })
  until?: string;

  /** 1-based. */
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'page must be a whole number from 1' })
  @Min(1, { message: 'page must be a whole number from 1' })
  page?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  @Min(1, { message: `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  @Max(MAX_PAGE_SIZE, { message: `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  pageSize?: number;
}

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
export class AuditController {
  constructor(
    private readonly trail: AuditTrail,
    private readonly gate: AccessGate,
  ) {}

  @Get()
  @Authenticated()
  @ApiOperation({
    summary: 'Audit records, newest first: platform administrators see all; holders of audit:view the records of their organizations',
  })
  async list(@Query() params: AuditQueryParams, @CurrentPrincipal() principal: Principal): Promise<AuditPage> {
    return queryAudit(this.gate, this.trail, principal, params);
  }
}

/**
 * The audit records the caller may read (REST and gRPC alike): platform
 * administrators all, holders of audit:view those of their organizations.
 */
export async function queryAudit(gate: AccessGate, trail: AuditTrail, principal: Principal, params: AuditQueryParams): Promise<AuditPage> {
  const scope = await gate.scope(principal, 'audit:view');
  if (!scope.everywhere && scope.orgs.length === 0 && scope.projects.length === 0) {
    throw new ForbiddenError('view the audit trail', 'you hold audit:view in no organization');
  }
  if (params.org !== undefined && !scope.everywhere && !scope.orgs.includes(params.org) && !scope.projects.some((path) => path.startsWith(`${params.org}/`))) {
    throw new NotFoundError('ORG.NOT_FOUND', `No organization named ${params.org} (or you are not a member of it).`);
  }
  const since = params.since ? new Date(params.since) : undefined;
  const until = params.until ? new Date(params.until) : undefined;
  if (since && until && since >= until) {
    throw new InvalidInputError('AUDIT.INVALID_RANGE', 'since must be earlier than until.');
  }
  return trail.find(
    { org: params.org, user: params.user, action: params.action, since, until, page: params.page ?? 1, pageSize: params.pageSize ?? 50 },
    { everywhere: scope.everywhere, orgs: scope.orgs, projects: scope.projects },
  );
}
