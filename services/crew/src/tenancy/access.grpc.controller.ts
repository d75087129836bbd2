import { Controller, Inject, Optional } from '@nestjs/common';
import { type Action, isAction, type Principal, Public } from '@co/auth';
import { InvalidInputError } from '@co/common';
import { crew } from '@co/proto';
import { API_TOKEN_VERIFIER, type ApiTokenVerifier } from '../tokens/api-token.port';
import { LocalAccessControl } from './local-access-control';

/**
 * containerops.crew.v1.AccessService: the decisions other services' guards ask for.
 * Public at the transport: its callers are the platform's services, which have
 * authenticated the subject themselves, so crew's gRPC port must be reachable only on
 * the cluster network, never from outside.
 */
@Controller()
@Public()
@crew.AccessServiceControllerMethods()
export class AccessGrpcController implements crew.AccessServiceController {
  constructor(
    private readonly access: LocalAccessControl,
    @Optional() @Inject(API_TOKEN_VERIFIER) private readonly tokens?: ApiTokenVerifier,
  ) {}

  async introspectToken(request: crew.IntrospectTokenRequest): Promise<crew.IntrospectTokenResponse> {
    const inactive = (reason: string) => ({ active: false, userId: '', username: '', tokenId: '', reason });
    if (!this.tokens) return inactive('personal API tokens are not accepted by this installation');
    const found = await this.tokens.introspect(request.token, request.username || undefined);
    if (!found.active) return inactive(found.reason ?? 'unknown');
    return { active: true, userId: found.userId ?? '', username: found.username ?? '', tokenId: found.tokenId ?? '', reason: '' };
  }

  async authorize(request: crew.AuthorizeRequest): Promise<crew.AuthorizeResponse> {
    const resource = request.resource;
    return this.access.authorize(principalOf(request.subject), actionOf(request.action), {
      org: resource?.org ?? '',
      ...(resource?.project ? { project: resource.project } : {}),
      ...(resource?.id ? { id: resource.id } : {}),
      ...(resource?.owner ? { owner: resource.owner } : {}),
    });
  }

  async listScope(request: crew.ListScopeRequest): Promise<crew.ListScopeResponse> {
    return this.access.listScope(principalOf(request.subject), actionOf(request.action));
  }

  async getQuota(request: crew.GetQuotaRequest): Promise<crew.GetQuotaResponse> {
    const limits = await this.access.quota(request.org, request.project || undefined);
    return { org: toLimits(limits.org), project: toLimits(limits.project) };
  }
}

function principalOf(subject: crew.Subject | undefined): Principal {
  if (!subject?.userId) return { kind: 'anonymous' };
  return { kind: 'user', userId: subject.userId, username: subject.username, ...(subject.tokenId ? { tokenId: subject.tokenId } : {}) };
}

function actionOf(action: string): Action {
  if (!isAction(action)) throw new InvalidInputError('ACCESS.UNKNOWN_ACTION', `${JSON.stringify(action)} is not an action; actions look like workflow:run.`);
  return action;
}

function toLimits(limits: { maxWorkflows?: number; maxConcurrentRuns?: number; maxRegistryBytes?: number }): crew.QuotaLimits {
  return { maxWorkflows: limits.maxWorkflows, maxConcurrentRuns: limits.maxConcurrentRuns, maxRegistryBytes: limits.maxRegistryBytes };
}
