import { isoTime, limitText, TRUNCATED_MARK } from './log-line';

describe('log lines', () => {
  it('cuts at a character boundary and marks the cut', () => {
    const cut = limitText('é'.repeat(200), 101);
    expect(cut.truncated).toBe(true);
    expect(cut.text.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(Buffer.byteLength(cut.text)).toBeLessThanOrEqual(101);
    expect(cut.text).not.toContain('\uFFFD');
    expect(limitText('short', 100)).toEqual({ text: 'short', truncated: false });
  });

  it('prints nanosecond times', () => {
    expect(isoTime(1772366400123456789n)).toBe('2026-03-01T12:00:00.123456789Z');
  });
});
