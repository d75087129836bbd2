import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { isAction, type Action } from '@co/auth';
import { ConcurrencyConflictError, Database, EventStore, sqlTime } from '@co/eventstore';
import { apiTokenStreamId, type ApiTokenIssued, type ApiTokenRevoked } from './api-token.events';
import { API_TOKEN_PREFIX, type ApiTokenIntrospection, type ApiTokenScope, type ApiTokenVerifier } from './api-token.port';

/** Limits of personal API tokens (documented in docs/security.md). */
export const API_TOKEN_LIMITS = {
  defaultDays: 90,
  maxDays: 365,
  activePerUser: 50,
  /** `lastUsedAt` is written at most this often per token. */
  lastUsedResolutionMs: 60_000,
  maxScopeEntries: 100,
} as const;

/** `cop_` and 32 random bytes in base64url. */
const TOKEN_FORMAT = new RegExp(`^${API_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);
const PROJECT_REF = /^[a-z0-9]+(-[a-z0-9]+)*\/[a-z0-9]+(-[a-z0-9]+)*$/;

/** What the API shows of a token: never the secret nor its hash. */
export interface ApiTokenView {
  id: string;
  name: string;
  scopes: ApiTokenScope;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
}

/** A new token: the only answer that carries the secret. */
export interface IssuedApiToken extends Omit<ApiTokenView, 'lastUsedAt'> {
  token: string;
}

interface TokenRow {
  token_hash: string;
  id: string;
  user_id: string;
  name: string;
  scopes: string;
  created_at: Date | string;
  expires_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Personal API tokens: `cop_` + 32 random bytes, shown once; only their sha256 is kept
 * (a 256-bit random secret cannot be guessed, so a slow KDF would add nothing but
 * latency on every request). A token narrows its user's rights to its scopes.
 */
@Injectable()
export class ApiTokens implements ApiTokenVerifier {
  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
  ) {}

  async issue(
    userId: string,
    input: { name: string; scopes?: { actions?: string[]; projects?: string[] }; expiresInDays?: number },
    now = new Date(),
  ): Promise<IssuedApiToken> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 64) {
      throw new InvalidInputError('TOKEN.INVALID_NAME', 'A token name must be 1 to 64 characters long (not only spaces).');
    }
    const scopes = checkScopes(input.scopes);
    const days = input.expiresInDays ?? API_TOKEN_LIMITS.defaultDays;
    if (!Number.isInteger(days) || days < 1 || days > API_TOKEN_LIMITS.maxDays) {
      throw new InvalidInputError(
        'TOKEN.INVALID_EXPIRY',
        `expiresInDays must be a whole number of days from 1 to ${API_TOKEN_LIMITS.maxDays} (default ${API_TOKEN_LIMITS.defaultDays}).`,
      );
    }
    const [{ active }] = await this.db.query<{ active: number | string }[]>(
      'SELECT COUNT(*) AS active FROM crew_api_tokens WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
      [userId, sqlTime(this.db, now)],
    );
    if (Number(active) >= API_TOKEN_LIMITS.activePerUser) {
      throw new ConflictError(
        'TOKEN.LIMIT',
        `You already have ${API_TOKEN_LIMITS.activePerUser} active API tokens, the most allowed; revoke one you no longer use first.`,
      );
    }
    const id = randomUUID();
    const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now.getTime() + days * 24 * 3600 * 1000);
    await this.db.query(
      'INSERT INTO crew_api_tokens (token_hash, id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)',
      [hashApiToken(token), id, userId, name, JSON.stringify(scopes), sqlTime(this.db, now), sqlTime(this.db, expiresAt)],
    );
    try {
      await this.store.append<ApiTokenIssued>(
        apiTokenStreamId(id),
        'no-stream',
        [{ type: 'ApiTokenIssued', data: { tokenId: id, userId, name, scopes, expiresAt: expiresAt.toISOString() } }],
        { actor: `user:${userId}` },
      );
    } catch (error) {
      await this.db.query('DELETE FROM crew_api_tokens WHERE id = ?', [id]).catch(() => undefined);
      throw error;
    }
    return { id, name, token, scopes, createdAt: now.toISOString(), expiresAt: expiresAt.toISOString() };
  }

  /** The user's tokens that are not revoked (expired ones included, so that they can be seen and deleted). */
  async list(userId: string): Promise<ApiTokenView[]> {
    const rows = await this.db.query<TokenRow[]>('SELECT * FROM crew_api_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at, id', [
      userId,
    ]);
    return rows.map(toView);
  }

  async get(userId: string, id: string): Promise<ApiTokenView> {
    return toView(await this.own(userId, id));
  }

  /** Revokes the user's token; another user's, or one already revoked, is not found. */
  async revoke(userId: string, id: string, now = new Date()): Promise<void> {
    await this.own(userId, id);
    await this.db.query('UPDATE crew_api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL', [sqlTime(this.db, now), id, userId]);
    try {
      await this.store.append<ApiTokenRevoked>(apiTokenStreamId(id), 1, [{ type: 'ApiTokenRevoked', data: { tokenId: id, userId } }], {
        actor: `user:${userId}`,
      });
    } catch (error) {
      // A concurrent revoke of the same token recorded it already.
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
  }

  async introspect(token: string, username?: string, now = new Date()): Promise<ApiTokenIntrospection> {
    if (!TOKEN_FORMAT.test(token)) return { active: false, reason: 'unknown token' };
    const [row] = await this.db.query<(TokenRow & { username: string | null })[]>(
      'SELECT t.*, u.username AS username FROM crew_api_tokens t LEFT JOIN crew_users u ON u.id = t.user_id WHERE t.token_hash = ?',
      [hashApiToken(token)],
    );
    if (!row || !row.username) return { active: false, reason: 'unknown token' };
    if (row.revoked_at !== null) return { active: false, tokenId: row.id, reason: 'the token was revoked' };
    if (new Date(row.expires_at).getTime() <= now.getTime()) return { active: false, tokenId: row.id, reason: 'the token has expired' };
    if (username !== undefined && username !== row.username) {
      return { active: false, tokenId: row.id, reason: 'the token belongs to another user' };
    }
    const lastUsed = row.last_used_at === null ? 0 : new Date(row.last_used_at).getTime();
    if (now.getTime() - lastUsed >= API_TOKEN_LIMITS.lastUsedResolutionMs) {
      await this.db.query('UPDATE crew_api_tokens SET last_used_at = ? WHERE token_hash = ?', [sqlTime(this.db, now), row.token_hash]);
    }
    return { active: true, userId: row.user_id, username: row.username, tokenId: row.id };
  }

  async scopeOf(tokenId: string, now = new Date()): Promise<ApiTokenScope | undefined> {
    const [row] = await this.db.query<TokenRow[]>('SELECT * FROM crew_api_tokens WHERE id = ?', [tokenId]);
    if (!row || row.revoked_at !== null || new Date(row.expires_at).getTime() <= now.getTime()) return undefined;
    return JSON.parse(row.scopes) as ApiTokenScope;
  }

  private async own(userId: string, id: string): Promise<TokenRow> {
    const [row] = await this.db.query<TokenRow[]>('SELECT * FROM crew_api_tokens WHERE id = ? AND user_id = ? AND revoked_at IS NULL', [id, userId]);
    if (!row) throw new NotFoundError('TOKEN.NOT_FOUND', `You have no API token with id ${id}.`);
    return row;
  }
}

/** Checks and normalizes a requested scope: known actions, `org/project` references, no empty lists. */
export function checkScopes(scopes: { actions?: string[]; projects?: string[] } | undefined): ApiTokenScope {
  const checked: ApiTokenScope = {};
  if (scopes?.actions !== undefined) {
    const unknown = scopes.actions.filter((action) => !isAction(action));
    if (unknown.length) {
      throw new InvalidInputError(
        'TOKEN.INVALID_SCOPE',
        `scopes.actions must name actions of the catalog, like workflow:view or image:pull; not known: ${unknown.slice(0, 5).join(', ')}.`,
        { unknown },
      );
    }
    checked.actions = [...new Set(scopes.actions as Action[])].sort();
  }
  if (scopes?.projects !== undefined) {
    const bad = scopes.projects.filter((project) => !PROJECT_REF.test(project));
    if (bad.length) {
      throw new InvalidInputError('TOKEN.INVALID_SCOPE', `scopes.projects must list projects as org/project, like acme/web; not valid: ${bad.slice(0, 5).join(', ')}.`);
    }
    checked.projects = [...new Set(scopes.projects)].sort();
  }
  for (const key of ['actions', 'projects'] as const) {
    const list = checked[key];
    if (list && list.length === 0) {
      throw new InvalidInputError('TOKEN.INVALID_SCOPE', `scopes.${key} must not be empty: leave it out to not restrict the token by ${key}.`);
    }
    if (list && list.length > API_TOKEN_LIMITS.maxScopeEntries) {
      throw new InvalidInputError('TOKEN.INVALID_SCOPE', `scopes.${key} may list at most ${API_TOKEN_LIMITS.maxScopeEntries} entries.`);
    }
  }
  return checked;
}

function toView(row: TokenRow): ApiTokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiTokenScope,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at).toISOString(),
  };
}
