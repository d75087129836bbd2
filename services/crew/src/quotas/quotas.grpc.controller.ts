import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { AccessGate, Authorize } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked } from '../grpc-calls';
import { QUOTA_KEYS, type QuotaValues } from './quota.events';
import { actorOf, organizationNotFound, projectNotFound, QuotaLimitsBody } from './quotas.controller';
import { QuotasService, type EffectiveLimits, type QuotaScopeView } from './quotas.service';
import type { QuotaUsage } from './quota-usage';

/** containerops.crew.v1.QuotaService: /api/v1/orgs/{org}/quotas over gRPC, with the same access rules. */
@Controller()
@crew.QuotaServiceControllerMethods()
export class QuotasGrpcController implements crew.QuotaServiceController {
  constructor(
    private readonly quotas: QuotasService,
    private readonly gate: AccessGate,
  ) {}

  @Authorize('quota:view')
  async getQuotas(request: crew.GetQuotasRequest, metadata?: Metadata): Promise<crew.OrganizationQuotas> {
    const { org } = request;
    await this.gate.require(callerOf(metadata), 'quota:view', { org }, () => organizationNotFound(org));
    const view = await this.quotas.view(org);
    return {
      name: view.org.name,
      limits: toLimits(view.org.limits),
      usage: toUsage(view.org.usage),
      projects: view.projects.map((project) => ({ project: project.project, limits: toLimits(project.limits), usage: toUsage(project.usage) })),
    };
  }

  @Authorize('quota:edit')
  async setOrganizationQuotas(request: crew.SetOrganizationQuotasRequest, metadata?: Metadata): Promise<crew.QuotaScope> {
    const principal = callerOf(metadata);
    const { org } = request;
    await this.gate.require(principal, 'quota:edit', { org }, () => organizationNotFound(org));
    return toScope(await this.quotas.set(org, undefined, valuesOf(request.limits), actorOf(principal)));
  }

  @Authorize('quota:edit')
  async setProjectQuotas(request: crew.SetProjectQuotasRequest, metadata?: Metadata): Promise<crew.QuotaScope> {
    const principal = callerOf(metadata);
    const { org, project } = request;
    await this.gate.require(principal, 'quota:edit', { org, project }, () => projectNotFound(org, project));
    return toScope(await this.quotas.set(org, project, valuesOf(request.limits), actorOf(principal)));
  }
}

/** Absent setting: the default; `unlimited`: null; else the limit (int64 arrives as a decimal string). */
function valuesOf(settings: crew.QuotaSettings | undefined | null): QuotaValues {
  const values: Record<string, number | null> = {};
  for (const key of QUOTA_KEYS) {
    const setting = settings?.[key] as crew.QuotaSetting | undefined | null;
    if (!setting) continue;
    values[key] = setting.unlimited ? null : Number(setting.limit);
  }
  return checked(QuotaLimitsBody, values);
}

function toLimits(limits: EffectiveLimits): crew.QuotaLimits {
  return {
    ...(limits.maxWorkflows !== null ? { maxWorkflows: limits.maxWorkflows } : {}),
    ...(limits.maxConcurrentRuns !== null ? { maxConcurrentRuns: limits.maxConcurrentRuns } : {}),
    ...(limits.maxRegistryBytes !== null ? { maxRegistryBytes: limits.maxRegistryBytes } : {}),
  };
}

function toUsage(usage: QuotaUsage): crew.QuotaUsage {
  return { workflows: usage.workflows, concurrentRuns: usage.concurrentRuns, registryBytes: usage.registryBytes };
}

function toScope(scope: QuotaScopeView): crew.QuotaScope {
  return { limits: toLimits(scope.limits), usage: toUsage(scope.usage) };
}
