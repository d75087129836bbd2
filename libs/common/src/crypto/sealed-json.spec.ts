import { randomBytes } from 'node:crypto';
import { openJson, sealJson } from './sealed-json';

describe('sealJson / openJson', () => {
  const key = randomBytes(32);

  it('opens what it sealed, and never shows the value in the sealed text', () => {
    const sealed = sealJson(key, 'run-1', { TOKEN: 'hunter2-secret' });
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('hunter2');
    expect(openJson(key, 'run-1', sealed)).toEqual({ TOKEN: 'hunter2-secret' });
    expect(sealJson(key, 'run-1', 'x')).not.toBe(sealJson(key, 'run-1', 'x'));
  });

  it('refuses another context, another key, a changed text and a short key', () => {
    const sealed = sealJson(key, 'run-1', ['a-value']);
    expect(() => openJson(key, 'run-2', sealed)).toThrow();
    expect(() => openJson(randomBytes(32), 'run-1', sealed)).toThrow();
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length - 1] ^= 1;
    expect(() => openJson(key, 'run-1', `v1.${bytes.toString('base64')}`)).toThrow();
    expect(() => openJson(key, 'run-1', 'v0.abc')).toThrow(/known format/);
    expect(() => sealJson(randomBytes(16), 'run-1', 1)).toThrow(/32 bytes/);
  });
});
