import { createHash } from 'node:crypto';
import type { OnModuleDestroy } from '@nestjs/common';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AccessControl, Credentials, Decision, ListScope, Principal, QuotaLimits, ResourceRef } from '../access';
import { resourceTypeOf, type Action } from '../actions';
import { AccessUnavailableError, UnauthenticatedError } from '../errors';
import type { crew } from '@co/proto';
import { AccessServiceClient } from './access-service.client';
import type { CrewAccessSettings } from './crew-access-settings';
import { DecisionCache } from './decision-cache';

/** What crew's access tokens are: Ed25519-signed JWTs for every ContainerOps service. */
export const ACCESS_TOKEN_RULES = { issuer: 'containerops-crew', audience: 'containerops', algorithm: 'EdDSA', clockToleranceSeconds: 30 } as const;

/** Personal API tokens start so; anything else sent as Bearer is an access token. */
export const API_TOKEN_PREFIX = 'cop_';

/** A JWKS fetch failed this recently is not retried for an unknown key id. */
const JWKS_COOLDOWN_MS = 30_000;

/**
 * AccessControl of every service but crew: access tokens are verified here against
 * crew's published keys; API tokens, decisions and list scopes are asked of crew over
 * gRPC and reused for `CO_AUTHZ_CACHE_SECONDS`. When crew cannot answer, the request
 * fails with 503: nothing is allowed without an answer.
 */
export class CrewAccessControl implements AccessControl, OnModuleDestroy {
  private readonly client: AccessServiceClient;
  private readonly keys: JWTVerifyGetKey;
  private readonly decisions: DecisionCache<Decision>;
  private readonly scopes: DecisionCache<ListScope>;
  private readonly tokens: DecisionCache<Principal | string>;

  constructor(
    readonly settings: CrewAccessSettings,
    now: () => number = Date.now,
  ) {
    this.client = new AccessServiceClient(settings.grpcAddress, settings.deadlineMs);
    this.keys = createRemoteJWKSet(new URL(`${settings.crewUrl}/.well-known/jwks.json`), {
      cooldownDuration: JWKS_COOLDOWN_MS,
      timeoutDuration: settings.deadlineMs,
    });
    const ttlMs = settings.cacheSeconds * 1000;
    this.decisions = new DecisionCache(ttlMs, settings.cacheMaxEntries, now);
    this.scopes = new DecisionCache(ttlMs, settings.cacheMaxEntries, now);
    this.tokens = new DecisionCache(ttlMs, settings.cacheMaxEntries, now);
  }

  async authenticate(credentials: Credentials): Promise<Principal> {
    if (credentials.scheme === 'basic') return this.introspect(credentials.password, credentials.username);
    if (credentials.token.startsWith(API_TOKEN_PREFIX)) return this.introspect(credentials.token, '');
    return this.verifyAccessToken(credentials.token);
  }

  authorize(principal: Principal, action: Action, resource: ResourceRef): Promise<Decision> {
    const subject = subjectOf(principal);
    const key = ['a', subject.userId, subject.tokenId, action, resource.org, resource.project ?? '', resource.id ?? '', resource.owner ?? ''].join('\u0000');
    return this.decisions.get(key, async () => {
      const answer = await this.client.authorize({
        subject,
        action,
        resource: { org: resource.org, project: resource.project ?? '', type: resourceTypeOf(action), id: resource.id ?? '', owner: resource.owner ?? '' },
      });
      return { allowed: answer.allowed === true, visible: answer.visible === true, reason: answer.reason || 'crew gave no reason' };
    });
  }

  listScope(principal: Principal, action: Action): Promise<ListScope> {
    const subject = subjectOf(principal);
    return this.scopes.get(['s', subject.userId, subject.tokenId, action].join('\u0000'), async () => {
      const answer = await this.client.listScope({ subject, action });
      return {
        everywhere: answer.everywhere === true,
        orgs: answer.orgs ?? [],
        projects: answer.projects ?? [],
        ownEverywhere: answer.ownEverywhere === true,
        ownOrgs: answer.ownOrgs ?? [],
        ownProjects: answer.ownProjects ?? [],
      };
    });
  }

  async quota(org: string, project?: string): Promise<{ org: QuotaLimits; project: QuotaLimits }> {
    const answer = await this.client.getQuota({ org, project: project ?? '' });
    return { org: limitsOf(answer.org), project: limitsOf(answer.project) };
  }

  onModuleDestroy(): void {
    this.client.close();
  }

  private async verifyAccessToken(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: ACCESS_TOKEN_RULES.issuer,
        audience: ACCESS_TOKEN_RULES.audience,
        algorithms: [ACCESS_TOKEN_RULES.algorithm],
        clockTolerance: ACCESS_TOKEN_RULES.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || !payload.sub || typeof payload.name !== 'string') {
        throw new UnauthenticatedError('the token lacks its subject or name', 'invalid_token');
      }
      return { kind: 'user', userId: payload.sub, username: payload.name };
    } catch (error) {
      throw accessTokenProblem(error);
    }
  }

  /** An API token (Bearer `cop_…`, or Basic username + token), as crew knows it. */
  private async introspect(token: string, username: string): Promise<Principal> {
    const key = ['t', createHash('sha256').update(token).digest('hex'), username].join('\u0000');
    const answer = await this.tokens.get(key, async () => {
      const introspected = await this.client.introspectToken({ token, username });
      if (!introspected.active || !introspected.userId) return introspected.reason || 'the token is not valid';
      return { kind: 'user', userId: introspected.userId, username: introspected.username, ...(introspected.tokenId ? { tokenId: introspected.tokenId } : {}) } as Principal;
    });
    if (typeof answer === 'string') throw new UnauthenticatedError(`the API token is not accepted (${answer})`, 'invalid_token');
    return answer;
  }
}

function subjectOf(principal: Principal): crew.Subject {
  if (principal.kind !== 'user') return { userId: '', username: '', tokenId: '' };
  return { userId: principal.userId, username: principal.username, tokenId: principal.tokenId ?? '' };
}

function limitsOf(message: crew.QuotaLimits | undefined): QuotaLimits {
  // Absent is no limit; 0 is a limit.
  const limit = (value: number | string | null | undefined) => (value === undefined || value === null || value === '' ? undefined : Number(value));
  return {
    maxWorkflows: limit(message?.maxWorkflows),
    maxConcurrentRuns: limit(message?.maxConcurrentRuns),
    maxRegistryBytes: limit(message?.maxRegistryBytes),
  };
}

/** Why an access token is refused (401), or that crew's keys could not be fetched (503). */
function accessTokenProblem(error: unknown): Error {
  if (error instanceof UnauthenticatedError) return error;
  if (error instanceof joseErrors.JWKSTimeout) return new AccessUnavailableError("crew's signing keys could not be fetched in time");
  // jose's plain JOSEError (and JWKSInvalid) mean crew's key set answer was not a key set.
  if (error instanceof joseErrors.JWKSInvalid || (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC')) {
    return new AccessUnavailableError("crew's signing keys could not be read");
  }
  if (error instanceof joseErrors.JWTExpired) return new UnauthenticatedError('the token has expired; log in again or refresh it', 'invalid_token');
  if (error instanceof joseErrors.JWTClaimValidationFailed) return new UnauthenticatedError(`the token's ${error.claim} claim is not accepted`, 'invalid_token');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new UnauthenticatedError('the token signature is not valid', 'invalid_token');
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new UnauthenticatedError(`the token's algorithm must be ${ACCESS_TOKEN_RULES.algorithm}`, 'invalid_token');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new UnauthenticatedError('the token was signed with an unknown key', 'invalid_token');
  if (error instanceof joseErrors.JOSEError) return new UnauthenticatedError('the token is malformed', 'invalid_token');
  // Not jose's verdict on the token: the keys themselves could not be fetched.
  return new AccessUnavailableError("crew's signing keys could not be fetched");
}
