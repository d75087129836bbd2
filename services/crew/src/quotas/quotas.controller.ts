import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AccessGate, Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import { NotFoundError } from '@co/common';
import { QuotasService, type OrganizationQuotas, type QuotaScopeView } from './quotas.service';

const whole = (name: string) => ({ message: `${name} must be a whole number from 0, or null for no limit` });

/** Replaces a scope's limits: a whole number, null for no limit, or absent for the default. */
export class QuotaLimitsBody {
  @IsOptional()
  @IsInt(whole('maxWorkflows'))
  @Min(0, whole('maxWorkflows'))
  @Max(Number.MAX_SAFE_INTEGER, whole('maxWorkflows'))
  maxWorkflows?: number | null;

  @IsOptional()
  @IsInt(whole('maxConcurrentRuns'))
  @Min(0, whole('maxConcurrentRuns'))
  @Max(Number.MAX_SAFE_INTEGER, whole('maxConcurrentRuns'))
  maxConcurrentRuns?: number | null;

  @IsOptional()
  @IsInt(whole('maxRegistryBytes'))
  @Min(0, whole('maxRegistryBytes'))
  @Max(Number.MAX_SAFE_INTEGER, whole('maxRegistryBytes'))
  maxRegistryBytes?: number | null;
}

export function organizationNotFound(org: string) {
  return new NotFoundError('ORG.NOT_FOUND', `No organization named ${org} (or you are not a member of it).`);
}

export function projectNotFound(org: string, project: string) {
  return new NotFoundError('PROJECT.NOT_FOUND', `No project named ${org}/${project} (or you are not a member of it).`);
}

@ApiTags('quotas')
@ApiBearerAuth()
@Controller('api/v1/orgs/:org')
export class QuotasController {
  constructor(
    private readonly quotas: QuotasService,
    private readonly gate: AccessGate,
  ) {}

  @Get('quotas')
  @Authorize('quota:view')
  @ApiOperation({ summary: "The organization's quota limits and usage, and each project's" })
  async get(@Param('org') org: string, @CurrentPrincipal() principal: Principal): Promise<OrganizationQuotas> {
    await this.gate.require(principal, 'quota:view', { org }, () => organizationNotFound(org));
    return this.quotas.view(org);
  }

  @Put('quotas')
  @Authorize('quota:edit')
  @ApiOperation({ summary: "Replace the organization's limits (absent: the default; null: no limit)" })
  async setOrganization(@Param('org') org: string, @Body() body: QuotaLimitsBody, @CurrentPrincipal() principal: Principal): Promise<QuotaScopeView> {
    await this.gate.require(principal, 'quota:edit', { org }, () => organizationNotFound(org));
    return this.quotas.set(org, undefined, body, actorOf(principal));
  }

  @Put('projects/:project/quotas')
  @Authorize('quota:edit')
  @ApiOperation({ summary: "Replace a project's limits (absent or null: no limit of its own)" })
  async setProject(
    @Param('org') org: string,
    @Param('project') project: string,
    @Body() body: QuotaLimitsBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<QuotaScopeView> {
    await this.gate.require(principal, 'quota:edit', { org, project }, () => projectNotFound(org, project));
    return this.quotas.set(org, project, body, actorOf(principal));
  }
}

export function actorOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? `user:${principal.userId}` : undefined;
}
