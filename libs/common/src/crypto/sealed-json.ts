import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/**
 * Seals a JSON value for storage with AES-256-GCM under a 32-byte key and a random 96-bit
 * nonce. `context` is authenticated with it (a run id, say), so a sealed value copied
 * to another row does not open. The text is `v1.<base64 of nonce | tag | ciphertext>`.
 */
export function sealJson(key: Buffer, context: string, value: unknown): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

/** Opens what `sealJson` sealed with the same key and context; throws when either differs or the text was changed. */
export function openJson(key: Buffer, context: string, sealed: string): unknown {
  checkKey(key);
  const [format, text] = sealed.split('.', 2);
  if (format !== FORMAT || !text) throw new Error('not a sealed value of a known format');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('the sealed value is cut short');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8'));
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new Error('a sealing key is 32 bytes (AES-256)');
}
