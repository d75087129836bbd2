import { hashPassword, passwordProblem, SCRYPT_PARAMS, verifyPassword } from './password-hasher';

describe('password hasher', () => {
  it('stores scrypt$N$r$p$salt$hash with the configured cost and a 16-byte salt', async () => {
    const stored = await hashPassword('correct horse battery staple');
    const parts = stored.split('$');
    expect(parts).toHaveLength(6);
    expect(parts.slice(0, 4)).toEqual(['scrypt', String(SCRYPT_PARAMS.N), '8', '1']);
    expect(SCRYPT_PARAMS.N).toBe(2 ** 15);
    expect(Buffer.from(parts[4], 'base64url')).toHaveLength(16);
    expect(Buffer.from(parts[5], 'base64url')).toHaveLength(32);
    expect(stored).not.toContain('correct horse');
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple');
    await expect(verifyPassword('correct horse battery staple', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapler', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts: the same password hashes differently each time, and both verify', async () => {
    const first = await hashPassword('same password twice');
    const second = await hashPassword('same password twice');
    expect(first).not.toBe(second);
    await expect(verifyPassword('same password twice', first)).resolves.toBe(true);
    await expect(verifyPassword('same password twice', second)).resolves.toBe(true);
  });

  it('answers false (no exception) for malformed or abusive stored values', async () => {
    const stored = await hashPassword('correct horse battery staple');
    const parts = stored.split('$');
    for (const bad of [
      '',
      'bcrypt$10$abc',
      ['scrypt', 2 ** 30, 8, 1, parts[4], parts[5]].join('$'),
      ['scrypt', 1000, 8, 1, parts[4], parts[5]].join('$'),
      ['scrypt', parts[1], 8, 1, '', parts[5]].join('$'),
      ['scrypt', parts[1], 8, 1, parts[4], 'c2hvcnQ'].join('$'),
    ]) {
      await expect(verifyPassword('correct horse battery staple', bad)).resolves.toBe(false);
    }
  });

  it('states the password rules', () => {
    expect(passwordProblem('short', 'alice')).toMatch(/12 to 128 characters/);
    expect(passwordProblem('x'.repeat(129), 'alice')).toMatch(/12 to 128 characters/);
    expect(passwordProblem('averyl0ngname', 'averyl0ngname')).toMatch(/not be the username/);
    expect(passwordProblem('twelve chars', 'alice')).toBeUndefined();
    expect(passwordProblem('x'.repeat(128), 'alice')).toBeUndefined();
  });
});
