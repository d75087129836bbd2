import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  type AccessControl,
  type Action,
  type Credentials,
  type Decision,
  type ListScope,
  NOWHERE,
  type Principal,
  type QuotaLimits,
  type ResourceRef,
  UnauthenticatedError,
} from '@co/auth';
import { AuthService } from '../auth/auth.service';
import { authorize, listScope, type Subject } from '../policy/policy';
import { narrowDecision, narrowScope } from '../policy/token-scope';
import { QUOTA_READER, type QuotaReader } from '../quotas/quota.port';
import { API_TOKEN_PREFIX, API_TOKEN_VERIFIER, type ApiTokenVerifier } from '../tokens/api-token.port';
import { TenancyService } from './tenancy.service';

/**
 * Crew's own AccessControl: decisions straight from its tenancy model. Other services
 * reach the same decisions through the AccessService gRPC API.
 */
@Injectable()
export class LocalAccessControl implements AccessControl {
  constructor(
    private readonly auth: AuthService,
    private readonly tenancy: TenancyService,
    @Optional() @Inject(API_TOKEN_VERIFIER) private readonly tokens?: ApiTokenVerifier,
    @Optional() @Inject(QUOTA_READER) private readonly quotas?: QuotaReader,
  ) {}

  /**
   * Bearer access tokens (JWT) and personal API tokens (`cop_…`, as Bearer or as the
   * Basic password). A Basic password is never accepted here: only the registry's token
   * endpoint takes one.
   */
  async authenticate(credentials: Credentials): Promise<Principal> {
    if (credentials.scheme === 'bearer') {
      if (credentials.token.startsWith(API_TOKEN_PREFIX)) return this.apiToken(credentials.token);
      const user = await this.auth.userOf(await this.auth.verify(credentials.token));
      return { kind: 'user', userId: user.id, username: user.username };
    }
    if (credentials.password.startsWith(API_TOKEN_PREFIX)) return this.apiToken(credentials.password, credentials.username);
    throw new UnauthenticatedError('send Authorization: Bearer <token>, or Basic with a personal API token as the password', 'invalid_request');
  }

  async authorize(principal: Principal, action: Action, resource: ResourceRef): Promise<Decision> {
    if (principal.kind !== 'user') return { allowed: false, visible: !resource.org, reason: 'you are not signed in' };
    const [subject, roles, existence] = await Promise.all([this.subject(principal), this.tenancy.roleLookup(), this.tenancy.exists(resource.org, resource.project)]);
    const decision = authorize(subject, roles, action, resource, existence);
    if (!principal.tokenId) return decision;
    return narrowDecision(decision, await this.tokens?.scopeOf(principal.tokenId), action, resource);
  }

  async listScope(principal: Principal, action: Action): Promise<ListScope> {
    if (principal.kind !== 'user') return NOWHERE;
    const [subject, roles] = await Promise.all([this.subject(principal), this.tenancy.roleLookup()]);
    const scope = listScope(subject, roles, action);
    if (!principal.tokenId) return scope;
    return narrowScope(scope, await this.tokens?.scopeOf(principal.tokenId), action);
  }

  async quota(org: string, project?: string): Promise<{ org: QuotaLimits; project: QuotaLimits }> {
    return this.quotas ? this.quotas.limits(org, project) : { org: {}, project: {} };
  }

  private async subject(principal: Principal & { kind: 'user' }): Promise<Subject> {
    return { userId: principal.userId, bindings: await this.tenancy.bindingsOf(principal.userId) };
  }

  private async apiToken(token: string, username?: string): Promise<Principal> {
    if (!this.tokens) throw new UnauthenticatedError('personal API tokens are not accepted by this installation', 'invalid_token');
    const found = await this.tokens.introspect(token, username);
    if (!found.active || !found.userId || !found.username || !found.tokenId) {
      throw new UnauthenticatedError(`the API token is not valid (${found.reason ?? 'unknown'})`, 'invalid_token');
    }
    return { kind: 'user', userId: found.userId, username: found.username, tokenId: found.tokenId };
  }
}
