import { Inject, Injectable } from '@nestjs/common';
import { AccessGate, ANONYMOUS, parseAuthorization, type Principal, UnauthenticatedError } from '@co/auth';
import { InvalidCredentialsError, ThrottledError } from '../auth/auth-errors';
import { LoginThrottle } from '../auth/login-throttle';
import { dummyHash, verifyPassword } from '../users/password-hasher';
import { UsersService } from '../users/users.service';
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
    private readonly users: UsersService,
    private readonly gate: AccessGate,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle,
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
    const retryAfter = this.throttle.retryAfter(username, address);
    if (retryAfter > 0) throw new ThrottledError(retryAfter);
    const credentials = await this.users.credentials(username);
    // An unknown user costs one scrypt too, against a hash no password matches.
    const valid = await verifyPassword(password, credentials?.passwordHash ?? (await dummyHash()));
    if (!credentials || !valid) {
      this.throttle.failed(username, address);
      throw new InvalidCredentialsError();
    }
    this.throttle.succeeded(username);
    return { kind: 'user', userId: credentials.userId, username: credentials.username };
  }
}
