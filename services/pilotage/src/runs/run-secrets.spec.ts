import { checkRunSecrets, maskDeep, maskList, maskSecretValues, RUN_SECRET_LIMITS } from './run-secrets';

describe('run secrets', () => {
  const declared = [{ name: 'TOKEN', required: true }, { name: 'OPTIONAL' }];

  it('keeps declared values and leaves optional ones out', () => {
    expect(checkRunSecrets(declared, { TOKEN: 'hunter22' })).toEqual({ TOKEN: 'hunter22' });
    expect(checkRunSecrets(undefined, undefined)).toEqual({});
  });

  it('refuses missing required, undeclared and malformed values all at once, naming them and never a value', () => {
    const refuse = () => checkRunSecrets(declared, { OPTIONAL: 'abc', EXTRA: 'secret-value', other: 7 } as Record<string, unknown>);
    expect(refuse).toThrow(expect.objectContaining({ code: 'RUN.INVALID_SECRETS', details: { missing: ['TOKEN'], undeclared: ['EXTRA', 'other'], invalid: ['OPTIONAL is shorter than 4 characters'] } }));
    try {
      refuse();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-value');
      expect((error as Error).message).not.toContain('abc');
    }
    expect(() => checkRunSecrets(declared, { TOKEN: 'x'.repeat(RUN_SECRET_LIMITS.valueBytes + 1) })).toThrow(/TOKEN is longer than 4096 bytes/);
  });


  it('masks longest values first, and every string of a JSON value', () => {
    const mask = maskList({ A: 'pass', B: 'password1', C: 'pass' });
    expect(mask).toEqual(['password1', 'pass']);
    expect(maskSecretValues('password1 and pass and passport', mask)).toBe('*** and *** and ***port');
    expect(maskDeep({ out: ['x password1'], pass: 3 }, mask)).toEqual({ out: ['x ***'], '***': 3 });
  });

  it('masks each line of a value with line breaks, since logs are read line by line', () => {
    const key = '-----BEGIN KEY-----\nMIIEvQIBADANBgkq\r\nab\n-----END KEY-----';
    const mask = maskList({ KEY: key });
    expect(mask).toEqual([key, '-----BEGIN KEY-----', '-----END KEY-----', 'MIIEvQIBADANBgkq']);
    expect(maskSecretValues('got MIIEvQIBADANBgkq', mask)).toBe('got ***');
  });
});
