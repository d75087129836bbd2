import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import { sqlTime, type Database } from '@co/eventstore';
import { ACCESS_TOKEN_SECONDS } from '../crew-settings';

export const SIGNING_ALG = 'EdDSA';

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  created_at: Date | string;
  retired_at: Date | string | null;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyLike | Uint8Array;
}

/** Public JWK fields only: what /.well-known/jwks.json shows. */
export type PublicJwk = JWK & { kid: string; alg: string; use: 'sig' };

/**
 * Ed25519 token signing keys in `crew_signing_keys`. At start a key older than the
 * rotation period is retired and a new one made; a retired key's public half stays
 * published until every token it signed has expired (access-token lifetime plus a
 * minute of clock skew). Private keys are stored unencrypted for now.
 */
export class SigningKeys {
  private current?: SigningKey;
  private published: PublicJwk[] = [];

  constructor(
    private readonly db: Database,
    private readonly rotationDays: number,
  ) {}

  /** Makes sure a young enough key exists (rotating an old one), then loads the keys. */
  async initialize(now = new Date()): Promise<void> {
    const newest = await this.newestActive();
    const maxAgeMs = this.rotationDays * 24 * 3600 * 1000;
    if (!newest || now.getTime() - new Date(newest.created_at).getTime() >= maxAgeMs) {
      const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
      const kid = randomUUID();
      const publicJwk: PublicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
      await this.db.query('INSERT INTO crew_signing_keys (kid, alg, public_jwk, private_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?, NULL)', [
        kid,
        SIGNING_ALG,
        JSON.stringify(publicJwk),
        JSON.stringify(privateJwk),
        sqlTime(this.db, now),
      ]);
      // Every older active key (another replica's included) is retired now.
      await this.db.query('UPDATE crew_signing_keys SET retired_at = ? WHERE retired_at IS NULL AND kid <> ?', [sqlTime(this.db, now), kid]);
    }
    await this.reload(now);
  }

  /** Reads the keys again (another replica may have rotated). */
  async reload(now = new Date()): Promise<void> {
    const rows = await this.db.query<KeyRow[]>('SELECT * FROM crew_signing_keys');
    const graceMs = (ACCESS_TOKEN_SECONDS + 60) * 1000;
    const visible = rows.filter((row) => row.retired_at === null || new Date(row.retired_at).getTime() + graceMs > now.getTime());
    this.published = visible.map((row) => publicOnly(JSON.parse(row.public_jwk) as PublicJwk));
    const active = rows
      .filter((row) => row.retired_at === null)
      .sort((a, b) => new Date(b.created_at).getTime() - new Date(a.created_at).getTime() || a.kid.localeCompare(b.kid))[0];
    if (active) this.current = { kid: active.kid, privateKey: await importJWK(JSON.parse(active.private_jwk) as JWK, SIGNING_ALG) };
  }

  signingKey(): SigningKey {
    if (!this.current) throw new Error('no signing key loaded');
    return this.current;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: this.published.map((key) => ({ ...key })) };
  }

  hasKid(kid: string): boolean {
    return this.published.some((key) => key.kid === kid);
  }

  private async newestActive(): Promise<KeyRow | undefined> {
    const rows = await this.db.query<KeyRow[]>('SELECT * FROM crew_signing_keys WHERE retired_at IS NULL');
    return rows.sort((a, b) => new Date(b.created_at).getTime() - new Date(a.created_at).getTime())[0];
  }
}

/** Only the public members of an OKP key: never `d`. */
function publicOnly(jwk: PublicJwk): PublicJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: jwk.alg, use: 'sig' };
}
