import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DeliveredMessage } from '@co/bus';
import { eventually } from '../../../test/support/infra';
import { RetentionService } from '../src/retention/retention.service';
import { LogStore } from '../src/storage/log-store';
import { ACME, GLOBEX, startLogarithm, type TestLogarithm } from './support/logarithm';

function nowNs(offsetMs = 0): string {
  return (BigInt(Date.now() + offsetMs) * 1_000_000n).toString();
}

describe('logarithm: durable storage and retention', () => {
  let logs: TestLogarithm;

  beforeAll(async () => {
    // Retention 0 days: every segment is expired as soon as retention runs (on demand only here).
    logs = await startLogarithm({ CO_LOGARITHM_RETENTION_DAYS: '0', CO_LOGARITHM_RETENTION_INTERVAL_MINUTES: '0' });
  });

  afterAll(async () => {
    await logs?.close();
  });

  const pushRun = async (token: string, place: { org: string; project: string }, run: string, texts: string[]) => {
    const answer = await logs.call('POST', '/loki/api/v1/push', token, { streams: [{ stream: { ...place, run, task: 'build.make' }, values: texts.map((text, i) => [nowNs(i), text]) }] });
    expect(answer.status).toBe(204);
  };
  const runTexts = async (run: string, token = logs.users.admin.token) => {
    const answer = await logs.call('GET', `/api/v1/runs/${run}/logs?limit=5000`, token);
    return answer.status === 200 ? (answer.body.lines.map((line: any) => line.text) as string[]) : answer.status;
  };
  const segmentOf = async (run: string) => {
    const [row] = await logs.service.runtime.db.query<{ file: string; size_bytes: string | number }[]>('SELECT file, size_bytes FROM logarithm_segments WHERE run = ?', [run]);
    return { file: path.join(logs.storageDir, 'segments', row.file), indexed: Number(row.size_bytes) };
  };

  it('keeps every acknowledged line across a restart, and numbers new lines after them', async () => {
    const run = randomUUID();
    const store = logs.service.app.get(LogStore);
    // Many small appends at once: one group commit (or a few) acknowledges them all.
    const acked = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append([{ ts: BigInt(nowNs(i)), labels: { ...ACME, run, task: 'build.make' }, text: `acked ${i}` }])),
    );
    const seqs = acked.flat().map((line) => BigInt(line.seq));
    expect(new Set(seqs).size).toBe(50);
    await logs.restart();
    const texts = await runTexts(run);
    expect(texts).toEqual(Array.from({ length: 50 }, (_, i) => `acked ${i}`));
    const [after] = await logs.service.app.get(LogStore).append([{ ts: BigInt(nowNs()), labels: { ...ACME, run }, text: 'after restart' }]);
    expect(BigInt(after.seq)).toBeGreaterThan(seqs.reduce((a, b) => (a > b ? a : b)));
  });

  it('cuts bytes written past the index (a commit that never finished) and removes unknown segment files at start', async () => {
    const run = randomUUID();
    await pushRun(logs.users.acmeAdmin.token, ACME, run, ['one', 'two']);
    const { file, indexed } = await segmentOf(run);
    expect(statSync(file).size).toBe(indexed);
    // A crash after writing a frame but before indexing it leaves this behind.
    appendFileSync(file, Buffer.from('half a gzip member that was never acknowledged'));
    const orphanDir = path.join(logs.storageDir, 'segments', 'zz');
    mkdirSync(orphanDir, { recursive: true });
    const orphan = path.join(orphanDir, 'zz0000.log.gz');
    writeFileSync(orphan, 'a segment whose first commit never reached the index');
    await logs.restart();
    expect(statSync(file).size).toBe(indexed);
    expect(existsSync(orphan)).toBe(false);
    await pushRun(logs.users.acmeAdmin.token, ACME, run, ['three']);
    expect(await runTexts(run)).toEqual(['one', 'two', 'three']);
  });

  it('lets organization administrators set their retention, and nobody else', async () => {
    const set = await logs.call('PUT', '/api/v1/logs/retention/acme', logs.users.acmeOwner.token, { days: 7 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ org: 'acme', days: 7, isDefault: false });
    expect((await logs.call('GET', '/api/v1/logs/retention/acme', logs.users.acmeViewer.token)).body.days).toBe(7);
    expect((await logs.call('PUT', '/api/v1/logs/retention/acme', logs.users.acmeViewer.token, { days: 1 })).status).toBe(403);
    expect((await logs.call('PUT', '/api/v1/logs/retention/acme', logs.users.globexAdmin.token, { days: 1 })).status).toBe(404);
    expect((await logs.call('PUT', '/api/v1/logs/retention/acme', logs.users.acmeOwner.token, { days: 0 })).status).toBe(400);
    expect((await logs.call('GET', '/api/v1/logs/retention/globex', logs.users.globexAdmin.token)).body).toEqual({ org: 'globex', days: 0, isDefault: true });
    expect((await logs.call('POST', '/api/v1/logs/retention/run', logs.users.acmeOwner.token)).status).toBe(403);
    // acme keeps 7 days now, globex has no segment yet: a run by a platform administrator removes nothing.
    const run = await logs.call('POST', '/api/v1/logs/retention/run', logs.users.admin.token);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ trigger: 'manual', startedBy: 'admin', segments: 0 });
  });

  it('deletes whole expired segments with their index rows and reports them in LogsExpired', async () => {
    const events: DeliveredMessage[] = [];
    const subscription = await logs.service.runtime.bus.subscribe({
      durable: `test-expired-${Date.now()}`,
      subject: `${logs.prefix}.logarithm.retention.LogsExpired`,
      handler: async (message) => {
        events.push(message);
      },
    });
    try {
      expect((await logs.call('PUT', '/api/v1/logs/retention/acme', logs.users.acmeOwner.token, { days: 7 })).status).toBe(200);
      const kept = randomUUID();
      const expired = randomUUID();
      await pushRun(logs.users.acmeAdmin.token, ACME, kept, ['acme keeps 7 days']);
      await pushRun(logs.users.globexAdmin.token, GLOBEX, expired, ['globex keeps 0 days', 'gone']);
      const { file } = await segmentOf(expired);
      // A second on: the segments just written are past 0 days, however fast this runs.
      const report = await logs.service.app.get(RetentionService).run({ trigger: 'manual', startedBy: 'admin', now: new Date(Date.now() + 1000) });
      const globex = report.orgs.find((entry) => entry.org === 'globex')!;
      expect(globex).toMatchObject({ org: 'globex', days: 0 });
      expect(globex.segments).toBeGreaterThanOrEqual(1);
      expect(globex.lines).toBeGreaterThanOrEqual(2);
      expect(report.orgs.find((entry) => entry.org === 'acme')).toBeUndefined();
      expect(existsSync(file)).toBe(false);
      const frames = await logs.service.runtime.db.query<unknown[]>('SELECT 1 FROM logarithm_frames WHERE run = ?', [expired]);
      expect(frames).toHaveLength(0);
      expect(await runTexts(expired)).toBe(404);
      expect(await runTexts(kept)).toEqual(['acme keeps 7 days']);
      const event = await eventually(async () => events.find((message) => (message.data as any).data.id === report.id), 15_000, 'LogsExpired');
      expect((event.data as any).data).toMatchObject({ segments: report.segments, lines: report.lines, bytes: report.bytes, trigger: 'manual', startedBy: 'admin' });
    } finally {
      await subscription.stop();
    }
  });
});
