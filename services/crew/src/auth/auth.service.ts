import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ACCESS_TOKEN_SECONDS, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../crew-settings';
import { dummyHash, verifyPassword } from '../users/password-hasher';
import { UsersService, type UserView } from '../users/users.service';
import { InvalidCredentialsError, InvalidRefreshTokenError, ThrottledError, UnauthenticatedError } from './auth-errors';
import { LoginThrottle } from './login-throttle';
import { RefreshTokens } from './refresh-tokens';
import { SIGNING_ALG, SigningKeys } from './signing-keys';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds the access token is valid. */
  expiresIn: number;
}

/** Claims crew puts in an access token. */
export interface AccessClaims {
  sub: string;
  name: string;
}

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly keys: SigningKeys,
    private readonly refreshTokens: RefreshTokens,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle,
  ) {}

  async login(username: string, password: string, address: string): Promise<TokenPair> {
    const user = await this.checkPassword(username, password, address);
    const refresh = await this.refreshTokens.issue(user.userId);
    return this.pair(user.userId, user.username, refresh.token);
  }

  /**
   * The user a username and password prove, through the login throttle (also used by the
   * registry token endpoint); throws InvalidCredentialsError or ThrottledError.
   */
  async checkPassword(username: string, password: string, address: string): Promise<{ userId: string; username: string }> {
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
    return { userId: credentials.userId, username: credentials.username };
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const next = await this.refreshTokens.rotate(refreshToken);
    const user = await this.users.findById(next.userId);
    if (!user) throw new InvalidRefreshTokenError();
    return this.pair(user.id, user.username, next.token);
  }

  async logout(refreshToken: string): Promise<void> {
    await this.refreshTokens.revoke(refreshToken);
  }

  jwks() {
    return this.keys.jwks();
  }

  /** Verifies a bearer access token locally against the published keys; throws UnauthenticatedError. */
  async verify(token: string): Promise<AccessClaims> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = header.kid;
      if (header.alg !== SIGNING_ALG) throw new UnauthenticatedError(`the token's algorithm must be ${SIGNING_ALG}`, 'invalid_token');
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      throw new UnauthenticatedError('the token is malformed', 'invalid_token');
    }
    if (!kid) throw new UnauthenticatedError('the token has no key id (kid)', 'invalid_token');
    // Another replica may have rotated the keys since they were loaded.
    if (!this.keys.hasKid(kid)) await this.keys.reload();
    if (!this.keys.hasKid(kid)) throw new UnauthenticatedError('the token was signed with an unknown key', 'invalid_token');
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(this.keys.jwks()), {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        algorithms: [SIGNING_ALG],
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        clockTolerance: 30,
      });
      if (typeof payload.sub !== 'string' || typeof payload.name !== 'string') {
        throw new UnauthenticatedError('the token lacks its subject or name', 'invalid_token');
      }
      return { sub: payload.sub, name: payload.name };
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      throw new UnauthenticatedError(describe(error), 'invalid_token');
    }
  }

  async me(token: string): Promise<UserView> {
    return this.userOf(await this.verify(token));
  }

  /** The user verified claims name; a token of a user that is gone is refused. */
  async userOf(claims: AccessClaims): Promise<UserView> {
    const user = await this.users.findById(claims.sub);
    if (!user) throw new UnauthenticatedError('the token names a user that does not exist', 'invalid_token');
    return user;
  }

  private async pair(userId: string, username: string, refreshToken: string): Promise<TokenPair> {
    const key = this.keys.signingKey();
    const accessToken = await new SignJWT({ name: username })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_SECONDS };
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `the token's algorithm must be ${SIGNING_ALG}`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'the token was signed with an unknown key';
  return 'the token is malformed';
}
