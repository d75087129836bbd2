import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CO_JSON, ECHO_ENTRY } from './entry-scripts';

/** The entry scripts run by this machine's busybox (the one the images carry), when installed. */
const BUSYBOX = '/bin/busybox';
const describeWithBusybox = existsSync(BUSYBOX) ? describe : describe.skip;

describeWithBusybox('the inputs reader and entry scripts, on busybox', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'co-entry-'));
    for (const applet of ['sh', 'awk', 'tr', 'sed']) execFileSync('ln', ['-s', BUSYBOX, path.join(dir, applet)]);
    writeFileSync(path.join(dir, 'co-json'), CO_JSON, { mode: 0o755 });
    writeFileSync(path.join(dir, 'co-echo'), ECHO_ENTRY, { mode: 0o755 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(script: string, data: unknown) {
    const answer = spawnSync(path.join(dir, 'sh'), ['-c', script], {
      env: { PATH: dir, CO_DATA: typeof data === 'string' ? data : JSON.stringify(data) },
      encoding: 'latin1',
    });
    return { status: answer.status, stdout: Buffer.from(answer.stdout, 'latin1').toString('utf8'), stderr: answer.stderr };
  }

  it('reads strings with every JSON escape, numbers, booleans and nested values', () => {
    const text = 'line one\n\t"quoted" back\\slash it\'s é 😀 \u0001';
    expect(run('co-json get text', { text }).stdout).toBe(text);
    expect(run('co-json get n', '{"n": -1.5e3}').stdout).toBe('-1.5e3');
    expect(run('co-json get a.b.1', { a: { b: [true, 'x'] } }).stdout).toBe('x');
    expect(run('co-json get ok', { ok: false }).stdout).toBe('false');
  });

  it('answers 1 for a missing value and 2 for data it cannot use', () => {
    expect(run('co-json get missing', { other: 1 }).status).toBe(1);
    expect(run('co-json get none', { none: null }).status).toBe(1);
    expect(run('co-json get a', '{"a": "x"').status).toBe(2);
    expect(run('co-json get a', '[1]').status).toBe(2);
    expect(run('co-json get a', { a: { b: 1 } }).status).toBe(2);
    expect(run('co-json get a', '{"a":"\\u0000"}').stderr).toContain('NUL');
  });

  it('quotes values for the shell, so that nothing in them runs', () => {
    const hostile = "x'; touch /tmp/co-pwned; echo '$(id) `id`";
    const answer = run('eval "$(co-json sh value v)"; printf %s "$value"', { v: hostile });
    expect(answer.stdout).toBe(hostile);
    expect(run('eval "$(co-json sh value v fallback)"; printf %s "$value"', {}).stdout).toBe('fallback');
    const exported = run('eval "$(co-json exports env)"; printf "%s|%s" "$A" "$B_2"', { env: { A: 'it\'s', B_2: 'two\n\nlines\n' } });
    expect(exported.stdout).toBe("it's|two\n\nlines\n");
    expect(run('co-json exports env', { env: { 'BAD-NAME': 'x' } }).status).toBe(2);
  });

  it('echo prints the message and writes it as one output line', () => {
    const answer = run('co-echo', { message: 'hello\nworld' });
    expect(answer.status).toBe(0);
    expect(answer.stdout).toBe('hello\nworld\n[COUT] message = hello world\n');
    expect(run('co-echo', {}).status).toBe(2);
  });
});
