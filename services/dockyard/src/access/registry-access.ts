import { Inject, Injectable } from '@nestjs/common';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import {
  ACCESS_CONTROL,
  ACCESS_TOKEN_RULES,
  AccessGate,
  ANONYMOUS,
  loadCrewAccessSettings,
  parseAuthorization,
  UnauthenticatedError,
  type AccessControl,
  type Principal,
} from '@co/auth';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { WorkspacesService } from '../workspaces/workspaces.service';

export const REGISTRY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RegistryAction = (typeof REGISTRY_ACTIONS)[number];

/** One entry of a registry token's `access` claim (Docker token authentication). */
interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** Who calls the registry: nobody, the bearer of a registry token, or a user with an API token (Basic). */
export type RegistryCaller =
  | { kind: 'anonymous' }
  | { kind: 'token'; subject: string; access: TokenAccess[] }
  | { kind: 'principal'; principal: Principal };

/** A registry token or credentials that prove nothing: 401 with the challenge (`error="invalid_token"`). */
export class RegistryUnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryUnauthorizedError';
  }
}

const MAX_ACCESS_ENTRIES = 50;

/**
 * Who may do what in the registry APIs (/v2, charts, binaries). Registry clients come
 * with crew's registry tokens (a JWT whose audience is this registry's service name and
 * whose `access` claim lists what crew granted); scripts may send Basic credentials with
 * a personal API token, which crew checks. Anyone may pull from a public workspace.
 */
@Injectable()
export class RegistryAccess {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(ACCESS_CONTROL) private readonly access: AccessControl,
    private readonly gate: AccessGate,
    private readonly workspaces: WorkspacesService,
  ) {
    const crew = loadCrewAccessSettings(process.env);
    this.keys = createRemoteJWKSet(new URL(`${crew.crewUrl}/.well-known/jwks.json`), { cooldownDuration: 30_000, timeoutDuration: crew.deadlineMs });
  }

  async authenticate(authorization: string | undefined): Promise<RegistryCaller> {
    if (!authorization) return { kind: 'anonymous' };
    const credentials = parseAuthorization(authorization);
    if (!credentials) throw new RegistryUnauthorizedError('the Authorization header must be Bearer <registry token> or Basic <user:API token>');
    if (credentials.scheme === 'basic') {
      try {
        return { kind: 'principal', principal: await this.access.authenticate(credentials) };
      } catch (error) {
        if (error instanceof UnauthenticatedError) throw new RegistryUnauthorizedError(`the credentials were not accepted: ${error.message}`);
        throw error;
      }
    }
    return this.verifyRegistryToken(credentials.token);
  }

  /**
   * For the chart and binary APIs, which people and scripts call with crew's own
   * credentials: Basic (username + personal API token) or Bearer (access token or API
   * token). No header is the anonymous caller; bad credentials throw RegistryUnauthorizedError.
   */
  async authenticatePerson(authorization: string | undefined): Promise<RegistryCaller> {
    if (!authorization) return { kind: 'anonymous' };
    const credentials = parseAuthorization(authorization);
    if (!credentials) throw new RegistryUnauthorizedError('the Authorization header must be Basic <user:API token> or Bearer <token>');
    try {
      return { kind: 'principal', principal: await this.access.authenticate(credentials) };
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw new RegistryUnauthorizedError(`the credentials were not accepted: ${error.message}`);
      throw error;
    }
  }

  /** May `caller` do `action` on the repository `<workspace>/<path>`? */
  async permits(caller: RegistryCaller, repository: string, action: RegistryAction): Promise<boolean> {
    const workspaceName = repository.split('/')[0];
    if (caller.kind === 'token') {
      const granted = caller.access.some((entry) => entry.type === 'repository' && entry.name === repository && entry.actions.includes(action));
      if (!granted) return false;
      // A token outlives a deleted workspace by minutes at most; the workspace must still be there.
      return (await this.workspaces.find(workspaceName)) !== undefined;
    }
    const workspace = await this.workspaces.find(workspaceName);
    if (!workspace) return false;
    if (action === 'pull' && workspace.visibility === 'public') return true;
    if (caller.kind !== 'principal') return false;
    return this.gate.allows(caller.principal, `image:${action}`, { org: workspace.org, project: workspace.project });
  }

  /**
   * May `caller` do a chart or binary action (`chart:pull`, `chart:push`, ...) in a
   * workspace? Registry tokens carry image rights only; they do not open charts.
   */
  async permitsInWorkspace(caller: RegistryCaller, workspaceName: string, action: 'pull' | 'push' | 'delete', kind: 'chart' | 'image'): Promise<boolean> {
    const workspace = await this.workspaces.find(workspaceName);
    if (!workspace) return false;
    if (action === 'pull' && workspace.visibility === 'public') return true;
    if (caller.kind !== 'principal') return false;
    return this.gate.allows(caller.principal, `${kind}:${action}`, { org: workspace.org, project: workspace.project });
  }

  /** The `WWW-Authenticate` value that sends a client to crew's token service. */
  challenge(scope?: { repository: string; actions: readonly string[] }, error?: 'invalid_token' | 'insufficient_scope'): string {
    const parts = [`realm="${this.settings.tokenRealm}"`, `service="${this.settings.serviceName}"`];
    if (scope) parts.push(`scope="repository:${scope.repository}:${scope.actions.join(',')}"`);
    if (error) parts.push(`error="${error}"`);
    return `Bearer ${parts.join(',')}`;
  }

  /** The `WWW-Authenticate` value for the chart and binary APIs, which take Basic credentials. */
  basicChallenge(): string {
    return `Basic realm="${this.settings.serviceName}", charset="UTF-8"`;
  }

  /** The crew principal behind a caller, for records of who pushed. */
  principalOf(caller: RegistryCaller): Principal {
    if (caller.kind === 'principal') return caller.principal;
    return ANONYMOUS;
  }

  /** A name for the caller in events and records. */
  actorOf(caller: RegistryCaller): string {
    if (caller.kind === 'token') return caller.subject || 'anonymous';
    if (caller.kind === 'principal' && caller.principal.kind === 'user') return caller.principal.username;
    return 'anonymous';
  }

  private async verifyRegistryToken(token: string): Promise<RegistryCaller> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: ACCESS_TOKEN_RULES.issuer,
        audience: this.settings.serviceName,
        algorithms: [ACCESS_TOKEN_RULES.algorithm],
        clockTolerance: ACCESS_TOKEN_RULES.clockToleranceSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw new RegistryUnauthorizedError(`the registry token was not accepted (${(error as Error).message}); ask ${this.settings.tokenRealm} for a new one`);
    }
    const access = Array.isArray(payload.access) ? (payload.access as unknown[]).slice(0, MAX_ACCESS_ENTRIES).filter(isTokenAccess) : [];
    return { kind: 'token', subject: typeof payload.sub === 'string' ? payload.sub : '', access };
  }
}

function isTokenAccess(value: unknown): value is TokenAccess {
  const entry = value as TokenAccess;
  return (
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.type === 'string' &&
    typeof entry.name === 'string' &&
    Array.isArray(entry.actions) &&
    entry.actions.every((action) => typeof action === 'string')
  );
}
