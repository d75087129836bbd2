import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SignJWT } from 'jose';
import { InvalidInputError } from '@co/common';
import { AccessGate, type Principal } from '@co/auth';
import { SIGNING_ALG, SigningKeys } from '../auth/signing-keys';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../crew-settings';
import { parseScopes, type RegistryAccess, type RegistryAction, type RepositoryRequest } from './registry-scope';
import { WorkspaceDirectory } from './workspace-directory';

/** Lifetime of a registry token (the token spec asks for at least 60 seconds). */
export const REGISTRY_TOKEN_SECONDS = 300;

/** The answer of the token endpoint, as the Docker token authentication spec names its fields. */
export interface RegistryTokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

const SERVICE = /^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,252}$/;

/**
 * Registry bearer tokens (Docker token authentication): an Ed25519 JWT signed with
 * crew's keys (verify with /.well-known/jwks.json), its audience the registry's
 * `service` name, its `access` claim what the caller may do, which is what they asked
 * for intersected with what they are allowed: pull, push and delete map to image:pull,
 * image:push and image:delete in the workspace's project. Anyone may pull from a public
 * workspace; an unknown workspace grants nothing. Getting less than asked is not an error.
 */
@Injectable()
export class RegistryTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly gate: AccessGate,
    private readonly workspaces: WorkspaceDirectory,
  ) {}

  async issue(principal: Principal, service: string | undefined, scopes: string[], now = new Date()): Promise<RegistryTokenAnswer> {
    if (!service || !SERVICE.test(service)) {
      throw new InvalidInputError('REGISTRY.INVALID_SERVICE', 'Pass the registry as service=<name>, the service name the registry is configured with (like registry.example.com).');
    }
    // Crew's own access tokens carry that audience: a registry token must never pass for one.
    if (service === TOKEN_AUDIENCE) {
      throw new InvalidInputError('REGISTRY.INVALID_SERVICE', `service must name a registry; "${TOKEN_AUDIENCE}" is reserved.`);
    }
    const access: RegistryAccess[] = [];
    for (const request of parseScopes(scopes)) {
      const actions = await this.grant(principal, request);
      if (actions.length) access.push({ type: 'repository', name: request.name, actions });
    }
    const key = this.keys.signingKey();
    const issuedAt = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(principal.kind === 'user' ? principal.username : '')
      .setAudience(service)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(issuedAt + REGISTRY_TOKEN_SECONDS)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, access_token: token, expires_in: REGISTRY_TOKEN_SECONDS, issued_at: new Date(issuedAt * 1000).toISOString() };
  }

  private async grant(principal: Principal, request: RepositoryRequest): Promise<RegistryAction[]> {
    const workspace = await this.workspaces.find(request.workspace);
    if (!workspace) return [];
    const granted: RegistryAction[] = [];
    for (const action of request.actions) {
      if (action === 'pull' && workspace.visibility === 'public') {
        granted.push(action);
        continue;
      }
      if (principal.kind !== 'user') continue;
      if (await this.gate.allows(principal, `image:${action}`, { org: workspace.org, project: workspace.project })) granted.push(action);
    }
    return granted;
  }
}
