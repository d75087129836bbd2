import { lineView, type StoredLogLine } from '../storage/log-line';
import { lineJson } from './sse-sink';

describe('tail lines', () => {
  it('serializes a line exactly as the query answers it', () => {
    const line: StoredLogLine = { seq: '7', ts: '1772366400123456789', labels: { org: 'acme', project: 'web', run: 'r1' }, text: 'say "hi"\tthere' };
    expect(lineJson(line)).toBe(JSON.stringify(lineView(line)));
    const cut: StoredLogLine = { ...line, text: 'long [truncated]', truncated: true };
    expect(lineJson(cut)).toBe(JSON.stringify(lineView(cut)));
  });
});
