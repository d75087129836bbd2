import { randomBytes } from 'node:crypto';
import type { Database } from '@co/eventstore';

/**
 * Values the engine keeps for its lifetime in its own database: its id (labels its
 * containers, so that engines sharing a container engine leave each other's alone)
 * and the secret behind per-task event tokens.
 */
export async function engineSetting(db: Database, name: string, create: () => string): Promise<string> {
  const read = async () =>
    (await db.query<{ value: string }[]>('SELECT value FROM pilotage_settings WHERE name = ?', [name]))[0]?.value;
  const existing = await read();
  if (existing) return existing;
  await db.query(`INSERT ${db.dialect === 'mysql' ? 'IGNORE' : 'OR IGNORE'} INTO pilotage_settings (name, value) VALUES (?, ?)`, [name, create()]);
  // Another replica may have written first; its value wins.
  return (await read())!;
}

export async function engineIdentity(db: Database): Promise<{ engineId: string; tokenSecret: Buffer }> {
  const engineId = await engineSetting(db, 'engine-id', () => `pilotage-${randomBytes(6).toString('hex')}`);
  const secret = await engineSetting(db, 'task-token-secret', () => randomBytes(32).toString('base64'));
  return { engineId, tokenSecret: Buffer.from(secret, 'base64') };
}

/** The AES-256 key run secrets are sealed with in `pilotage_run_secrets`. */
export async function runSecretsKey(db: Database): Promise<Buffer> {
  return Buffer.from(await engineSetting(db, 'run-secrets-key', () => randomBytes(32).toString('base64')), 'base64');
}
