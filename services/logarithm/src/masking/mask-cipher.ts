import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Database } from '@co/eventstore';

const KEY_SETTING = 'mask-key';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals a run's secret values for the database with AES-256-GCM. The run (and its
 * organization) is the additional authenticated data, so a sealed row copied onto
 * another run does not open.
 */
export class MaskCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the mask key must be 32 bytes');
  }

  seal(values: string[], context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, context: string): string[] {
    const bytes = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    const values = JSON.parse(text) as unknown;
    if (!Array.isArray(values) || !values.every((value) => typeof value === 'string')) throw new Error('sealed masks are not a list of strings');
    return values;
  }
}

/**
 * The key masks are sealed with: generated once and kept in `logarithm_settings`, so
 * that every replica and every restart opens what the others sealed.
 */
export async function maskCipher(db: Database): Promise<MaskCipher> {
  const read = async () =>
    (await db.query<{ value: string }[]>('SELECT value FROM logarithm_settings WHERE name = ?', [KEY_SETTING]))[0]?.value;
  let value = await read();
  if (!value) {
    await db.query(`INSERT ${db.dialect === 'mysql' ? 'IGNORE' : 'OR IGNORE'} INTO logarithm_settings (name, value) VALUES (?, ?)`, [
      KEY_SETTING,
      randomBytes(32).toString('base64'),
    ]);
    // Another replica may have written first; its key wins.
    value = await read();
  }
  return new MaskCipher(Buffer.from(value!, 'base64'));
}
