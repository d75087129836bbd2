import { randomBytes } from 'node:crypto';
import { openJson, sealJson } from '@co/common';
import type { Database } from '@co/eventstore';

const KEY_SETTING = 'mask-key';
/**
 * Seals a run's secret values for the database with AES-256-GCM (`sealJson`). The run
 * (and its organization) is the additional authenticated data, so a sealed row copied
 * onto another run does not open.
 */
export class MaskCipher {
  constructor(private readonly key: Buffer) {}

  seal(values: string[], context: string): string {
    return sealJson(this.key, context, values);
  }

  open(sealed: string, context: string): string[] {
    const values = openJson(this.key, context, sealed);
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
