import { resolveRange } from './version-ranges';

const versions = ['1.0.0', '1.2.0', '1.2.5', '1.3.0', '2.0.0-rc.1', '2.0.0-rc.2', '1.4.0-beta.1'].map((version) => ({ version, yanked: false }));

function resolved(range: string, list = versions): string | undefined {
  const result = resolveRange(list, range);
  return result.ok ? result.version : undefined;
}

describe('resolveRange', () => {
  it('takes the highest release matching caret, tilde, x and exact ranges', () => {
    expect(resolved('^1.2')).toBe('1.3.0');
    expect(resolved('~1.2.3')).toBe('1.2.5');
    expect(resolved('1.x')).toBe('1.3.0');
    expect(resolved('1.2.0')).toBe('1.2.0');
    expect(resolved('')).toBe('1.3.0');
    expect(resolved('latest')).toBe('1.3.0');
  });

  it('considers pre-releases only when the range names one of the same version', () => {
    expect(resolved('^2')).toBeUndefined();
    expect(resolved('^2.0.0-rc.1')).toBe('2.0.0-rc.2');
    expect(resolved('2.0.0-rc.1')).toBe('2.0.0-rc.1');
    expect(resolved('^1.4.0-beta.0')).toBe('1.4.0-beta.1');
    expect(resolved('>=1.3.1')).toBeUndefined();
  });

  it('skips yanked versions and names the yanked ones that matched', () => {
    const list = versions.map((entry) => (entry.version === '1.3.0' || entry.version === '1.0.0' ? { ...entry, yanked: true } : entry));
    expect(resolved('^1.2', list)).toBe('1.2.5');
    expect(resolveRange(list, '1.0.0')).toEqual({ ok: false, reason: 'no-match', yankedMatches: ['1.0.0'] });
  });

  it('refuses what is not a range', () => {
    expect(resolveRange(versions, 'not a range!')).toEqual({ ok: false, reason: 'invalid-range' });
    expect(resolveRange(versions, `^${'1'.repeat(300)}`)).toEqual({ ok: false, reason: 'invalid-range' });
  });
});
