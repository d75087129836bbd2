import { Injectable } from '@nestjs/common';
import { AccessGate, ANONYMOUS, parseAuthorization, type Principal, UnauthenticatedError } from '@co/auth';
import { InvalidCredentialsError } from '../auth/auth-errors';
import { AuthService } from '../auth/auth.service';
import { API_TOKEN_PREFIX } from '../tokens/api-token.port';

/**
 * Who asks for a registry token. Registry clients (docker, podman, skopeo, helm) send
 * `Basic username:secret`, the secret being the password or a personal API token; a
 * crew access token or API token as Bearer works too, and no header is an anonymous
 * caller. Passwords go through the same throttle as logins.
 */
@Injectable()
export class RegistryCredentials {
  constructor(
    private readonly auth: AuthService,
    private readonly gate: AccessGate,
  ) {}

  /** The caller; throws InvalidCredentialsError (401) or ThrottledError (429). */
  async principalOf(authorization: string | undefined, address: string): Promise<Principal> {
    let credentials: ReturnType<typeof parseAuthorization>;
    try {
      credentials = parseAuthorization(authorization);
    } catch {
      throw new InvalidCredentialsError();
    }
    if (!credentials) return ANONYMOUS;
    if (credentials.scheme === 'basic' && !credentials.password.startsWith(API_TOKEN_PREFIX)) {
      return this.password(credentials.username, credentials.password, address);
    }
    // Access tokens and API tokens are checked as everywhere else in crew.
    try {
      return await this.gate.access.authenticate(credentials);
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw new InvalidCredentialsError();
      throw error;
    }
  }

  private async password(username: string, password: string, address: string): Promise<Principal> {
    const user = await this.auth.checkPassword(username, password, address);
    return { kind: 'user', ...user };
  }
}
