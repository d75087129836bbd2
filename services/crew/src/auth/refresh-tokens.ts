import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sqlTime, type Database } from '@co/eventstore';
import { REFRESH_TOKEN_SECONDS } from '../crew-settings';
import { InvalidRefreshTokenError } from './auth-errors';

interface TokenRow {
  token_hash: string;
  family_id: string;
  user_id: string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  replaced_by: string | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Refresh tokens in the plain table `crew_refresh_tokens`: 32 random bytes
 * (base64url) given to the client once; only their sha256 is stored. Each login
 * starts a family; a refresh revokes the token it used and issues the next one of the
 * family. Using a revoked token again (a stolen copy, or the client's) revokes the
 * whole family.
 */
export class RefreshTokens {
  constructor(private readonly db: Database) {}

  async issue(userId: string, familyId: string = randomUUID(), now = new Date()): Promise<{ token: string; hash: string }> {
    const token = randomBytes(32).toString('base64url');
    const hash = hashToken(token);
    await this.db.query(
      'INSERT INTO crew_refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at, revoked_at, replaced_by) VALUES (?, ?, ?, ?, ?, NULL, NULL)',
      [hash, familyId, userId, sqlTime(this.db, now), sqlTime(this.db, new Date(now.getTime() + REFRESH_TOKEN_SECONDS * 1000))],
    );
    return { token, hash };
  }

  /** Revokes `token` and issues its successor; reuse of a revoked token revokes its family. */
  async rotate(token: string, now = new Date()): Promise<{ userId: string; token: string }> {
    const row = await this.find(token);
    if (!row) throw new InvalidRefreshTokenError();
    if (row.revoked_at !== null) {
      await this.revokeFamily(row.family_id, now);
      throw new InvalidRefreshTokenError('The refresh token was already used or revoked; every token of this login is now revoked. Log in again.');
    }
    if (new Date(row.expires_at).getTime() <= now.getTime()) throw new InvalidRefreshTokenError();
    const next = await this.issue(row.user_id, row.family_id, now);
    // Conditional: of two concurrent refreshes with the same token only one wins.
    await this.db.query('UPDATE crew_refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE token_hash = ? AND revoked_at IS NULL', [
      sqlTime(this.db, now),
      next.hash,
      row.token_hash,
    ]);
    const [after] = await this.db.query<TokenRow[]>('SELECT * FROM crew_refresh_tokens WHERE token_hash = ?', [row.token_hash]);
    if (after?.replaced_by !== next.hash) {
      await this.revokeFamily(row.family_id, now);
      throw new InvalidRefreshTokenError('The refresh token was already used; every token of this login is now revoked. Log in again.');
    }
    return { userId: row.user_id, token: next.token };
  }

  /** Revokes `token` (logout). Unknown or already revoked tokens are ignored. */
  async revoke(token: string, now = new Date()): Promise<void> {
    await this.db.query('UPDATE crew_refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [
      sqlTime(this.db, now),
      hashToken(token),
    ]);
  }

  private async find(token: string): Promise<TokenRow | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const [row] = await this.db.query<TokenRow[]>('SELECT * FROM crew_refresh_tokens WHERE token_hash = ?', [hashToken(token)]);
    return row;
  }

  private async revokeFamily(familyId: string, now: Date): Promise<void> {
    await this.db.query('UPDATE crew_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL', [sqlTime(this.db, now), familyId]);
  }
}
