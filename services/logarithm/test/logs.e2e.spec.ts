import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { eventually } from '../../../test/support/infra';
import { FRAMES_PER_QUERY, LogQuery } from '../src/query/log-query';
import { ACME, GLOBEX, startLogarithm, type TestLogarithm } from './support/logarithm';

/** Unix ns of a fixed base time plus `ms` milliseconds. */
const BASE_MS = Date.parse('2026-03-01T12:00:00Z');
function ns(ms: number, extra = 0): string {
  return (BigInt(BASE_MS + ms) * 1_000_000n + BigInt(extra)).toString();
}

/** A task log message as pilotage publishes it: lines of one task of an acme/web run at the given positions. */
function taskLogMessage(prefix: string, run: string, task: string, seqs: number[], id: string) {
  return {
    id,
    subject: `${prefix}.pilotage.tasklog.${run}`,
    headers: { 'Co-Project': 'acme/web', 'Co-Tenant': 'acme' },
    data: {
      runId: run,
      workflowId: 'wf-1',
      project: 'acme/web',
      lines: seqs.map((seq) => ({ task, attempt: 1, source: 'container', seq, stream: 'stdout', time: new Date(BASE_MS + seq).toISOString(), text: `line ${seq}` })),
    },
  };
}

describe('logarithm: ingest, query and download', () => {
  let logs: TestLogarithm;

  beforeAll(async () => {
    logs = await startLogarithm();
  });

  afterAll(async () => {
    await logs?.close();
  });

  const push = (token: string | null, body: unknown, route = '/api/v1/logs/push', headers: Record<string, string> = {}) => logs.call('POST', route, token, body, headers);

  it('stores lines pushed over HTTP and answers them in time order with labels', async () => {
    const run = randomUUID();
    const answer = await push(logs.users.acmeAdmin.token, {
      streams: [
        { stream: { ...ACME, run, task: 'build.compile', stream: 'stdout', source: 'container' }, values: [[ns(2), 'second'], [ns(0), 'first']] },
        { stream: { ...ACME, run, task: 'build.compile', stream: 'stderr', source: 'container' }, values: [[ns(1), 'middle']] },
      ],
    });
    expect(answer.status).toBe(204);
    const read = await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.acmeViewer.token);
    expect(read.status).toBe(200);
    expect(read.body.lines.map((line: any) => line.text)).toEqual(['first', 'middle', 'second']);
    const first = read.body.lines[0];
    expect(first.time).toBe('2026-03-01T12:00:00.000000000Z');
    expect(first.ts).toBe(ns(0));
    expect(first.labels).toMatchObject({ org: 'acme', project: 'web', run, task: 'build.compile', stage: 'build', action: 'compile', stream: 'stdout', source: 'container' });
    expect(read.body.next).toBeUndefined();
  });

  it("accepts Loki's push with an API token as Bearer or as Basic password, gzip too", async () => {
    const token = await logs.apiToken('acmeAdmin');
    const app = `app${Date.now()}`;
    const body = { streams: [{ stream: { ...ACME, app }, values: [[ns(10), 'via bearer']] }] };
    expect((await push(token, body, '/loki/api/v1/push')).status).toBe(204);
    const basic = `Basic ${Buffer.from(`acme-admin:${token}`).toString('base64')}`;
    const gzipped = gzipSync(Buffer.from(JSON.stringify({ streams: [{ stream: { ...ACME, app }, values: [[ns(11), 'via basic, gzipped']] }] })));
    const second = await push(null, gzipped, '/loki/api/v1/push', { authorization: basic, 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(second.status).toBe(204);
    const read = await logs.call('GET', `/api/v1/logs?org=acme&label.app=${app}`, logs.users.acmeViewer.token);
    expect(read.body.lines.map((line: any) => [line.text, line.labels.source])).toEqual([
      ['via bearer', 'push'],
      ['via basic, gzipped', 'push'],
    ]);
  });

  it('refuses pushes without log:push (403), without org/project (400), and anonymous ones (401)', async () => {
    const body = { streams: [{ stream: { ...ACME }, values: [[ns(0), 'nope']] }] };
    expect((await push(logs.users.acmeViewer.token, body)).status).toBe(403);
    expect((await push(logs.users.globexAdmin.token, body)).status).toBe(403);
    expect((await push(logs.users.globexAdmin.token, { streams: [{ stream: { org: 'nowhere-org', project: 'x1' }, values: [[ns(0), 'nope']] }] })).status).toBe(403);
    expect((await push(null, body)).status).toBe(401);
    const missing = await push(logs.users.acmeAdmin.token, { streams: [{ stream: { org: 'acme' }, values: [[ns(0), 'no project']] }] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('LOGS.INVALID_PUSH');
    const badTime = await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME }, values: [['yesterday', 'x']] }] });
    expect(badTime.status).toBe(400);
    const tooManyLabels = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`l${i}`, 'v']));
    expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, ...tooManyLabels }, values: [[ns(0), 'x']] }] })).status).toBe(400);
  });

  it('refuses a run, task or source label longer than its index column, without failing a push stored with it', async () => {
    const run = randomUUID();
    const good = { streams: [{ stream: { ...ACME, run }, values: [[ns(0), 'stored']] }] };
    const tooLong = { streams: [{ stream: { ...ACME, run: 'r'.repeat(192) }, values: [[ns(0), 'refused']] }] };
    // Sent together, so that both would join one group commit if the long label reached the store.
    const [refused, stored] = await Promise.all([push(logs.users.acmeAdmin.token, tooLong), push(logs.users.acmeAdmin.token, good)]);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('LOGS.INVALID_PUSH');
    expect(refused.body.error.message).toContain('191 characters');
    expect(stored.status).toBe(204);
    expect((await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.acmeViewer.token)).body.lines.map((line: any) => line.text)).toEqual(['stored']);
    for (const labels of [{ task: `build.${'t'.repeat(190)}` }, { source: 's'.repeat(192) }]) {
      expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, ...labels }, values: [[ns(0), 'x']] }] })).status).toBe(400);
    }
    // The longest value allowed fits its column.
    const longest = `${randomUUID()}${'r'.repeat(191 - 36)}`;
    expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, run: longest }, values: [[ns(0), 'longest run id']] }] })).status).toBe(204);
    expect((await logs.call('GET', `/api/v1/runs/${longest}/logs`, logs.users.acmeViewer.token)).body.lines).toHaveLength(1);
  });

  it('cuts a line over 64 KiB and marks it; answers 413 to a body over 8 MiB', async () => {
    const run = randomUUID();
    const long = 'x'.repeat(70 * 1024);
    expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, run }, values: [[ns(0), long]] }] })).status).toBe(204);
    const read = await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.acmeAdmin.token);
    const [line] = read.body.lines;
    expect(line.truncated).toBe(true);
    expect(line.text.endsWith(' [truncated]')).toBe(true);
    expect(Buffer.byteLength(line.text)).toBe(64 * 1024);
    const huge = Buffer.from(JSON.stringify({ streams: [{ stream: { ...ACME }, values: [[ns(0), 'y'.repeat(9 * 1024 * 1024)]] }] }));
    const refused = await push(logs.users.acmeAdmin.token, huge, '/api/v1/logs/push', { 'content-type': 'application/json' });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('LOGS.PUSH_TOO_LARGE');
  });

  it('ingests pilotage task logs from NATS and stores a replayed message once', async () => {
    const run = randomUUID();
    const message = (seqs: number[], id: string) => taskLogMessage(logs.prefix, run, 'test.unit', seqs, id);
    const bus = logs.service.runtime.bus;
    await bus.publish(message([0, 1, 2], `${run}/a`));
    await bus.publish(message([3, 4], `${run}/b`));
    // pilotage replays the container log after an engine restart: same positions, new message id.
    await bus.publish(message([0, 1, 2, 3, 4, 5], `${run}/c`));
    // A marker after the replay: once it is in, the replay was handled before it.
    await bus.publish(message([6], `${run}/marker`));
    const lines = await eventually(async () => {
      const read = await logs.call('GET', `/api/v1/runs/${run}/tasks/test.unit/logs`, logs.users.acmeAdmin.token);
      return read.status === 200 && read.body.lines.some((line: any) => line.text === 'line 6') ? read.body.lines : undefined;
    }, 15_000, 'task log lines');
    expect(lines.map((line: any) => line.text)).toEqual([0, 1, 2, 3, 4, 5, 6].map((seq) => `line ${seq}`));
    expect(lines[0].labels).toEqual({ org: 'acme', project: 'web', workflow: 'wf-1', run, task: 'test.unit', stage: 'test', action: 'unit', attempt: '1', stream: 'stdout', source: 'container' });
    // Another organization does not learn the run exists.
    const hidden = await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.globexAdmin.token);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('LOGS.RUN_NOT_FOUND');
    expect((await logs.call('GET', `/api/v1/runs/${run}/logs/download`, logs.users.globexAdmin.token)).status).toBe(404);
    expect((await logs.call('GET', `/api/v1/runs/${randomUUID()}/logs`, logs.users.acmeAdmin.token)).status).toBe(404);
  });

  it('ingests the generic <prefix>.logs.<org>.<project>.<source> subject', async () => {
    const build = `b${Date.now()}`;
    await logs.service.runtime.bus.publish({
      id: randomUUID(),
      subject: `${logs.prefix}.logs.globex.ops.build`,
      data: { lines: [{ ts: ns(5), labels: { build, org: 'acme' }, text: 'building' }] },
    });
    const read = await eventually(async () => {
      const answer = await logs.call('GET', `/api/v1/logs?label.build=${build}`, logs.users.globexAdmin.token);
      return answer.body.lines?.length ? answer.body : undefined;
    }, 15_000, 'generic log line');
    // The subject names the tenant: a label cannot move the line to another organization.
    expect(read.lines[0].labels).toMatchObject({ org: 'globex', project: 'ops', source: 'build', build });
    expect((await logs.call('GET', `/api/v1/logs?label.build=${build}`, logs.users.acmeAdmin.token)).body.lines).toEqual([]);
  });

  it('refuses a malformed task log message alone: a good one published with it is stored', async () => {
    const bad = randomUUID();
    const good = randomUUID();
    const malformed = taskLogMessage(logs.prefix, bad, 'test.unit', [0, 1], `${bad}/a`);
    const lines = malformed.data.lines as Record<string, unknown>[];
    lines[1] = { ...lines[1], text: 42 };
    const bus = logs.service.runtime.bus;
    await Promise.all([bus.publish(malformed), bus.publish(taskLogMessage(logs.prefix, good, 'test.unit', [0, 1], `${good}/a`))]);
    const stored = await eventually(async () => {
      const read = await logs.call('GET', `/api/v1/runs/${good}/logs`, logs.users.acmeAdmin.token);
      return read.status === 200 && read.body.lines.length >= 2 ? read.body.lines : undefined;
    }, 15_000, 'the good message');
    expect(stored.map((line: any) => line.text)).toEqual(['line 0', 'line 1']);
    // Nothing of the malformed message: not even its valid first line.
    expect((await logs.call('GET', `/api/v1/runs/${bad}/logs`, logs.users.acmeAdmin.token)).status).toBe(404);
  });

  it('pages forward even when more frames than a query reads overlap the start', async () => {
    const run = randomUUID();
    // Four commits, four frames, each spanning the same ten seconds.
    for (let frame = 0; frame < 4; frame++) {
      const values = [[ns(0, frame), `first of frame ${frame}`], [ns(10_000, frame), `last of frame ${frame}`]];
      expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, run }, values }] })).status).toBe(204);
    }
    const query = logs.service.app.get(LogQuery);
    query.framesPerQuery = 2;
    try {
      const walk = async (direction: string, filter = '') => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 40; page++) {
          const answer = await logs.call('GET', `/api/v1/runs/${run}/logs?limit=1&direction=${direction}${filter}${cursor ? `&cursor=${cursor}` : ''}`, logs.users.acmeViewer.token);
          expect(answer.status).toBe(200);
          seen.push(...answer.body.lines.map((line: any) => line.text));
          cursor = answer.body.next;
          if (!cursor) return seen;
        }
        throw new Error(`paging ${direction} does not end: ${seen.length} lines after 40 pages`);
      };
      const forward = [0, 1, 2, 3].map((frame) => `first of frame ${frame}`).concat([0, 1, 2, 3].map((frame) => `last of frame ${frame}`));
      expect(await walk('forward')).toEqual(forward);
      expect(await walk('backward')).toEqual([...forward].reverse());
      expect(await walk('forward', `&since=${ns(0)}`)).toEqual(forward);
      expect(await walk('backward', `&until=${ns(10_000, 9)}`)).toEqual([...forward].reverse());
    } finally {
      query.framesPerQuery = FRAMES_PER_QUERY;
    }
  });

  describe('filters and pages', () => {
    const run = randomUUID();
    beforeAll(async () => {
      const values = (stream: string, task: string) =>
        Array.from({ length: 30 }, (_, i) => i)
          .filter((i) => (stream === 'stdout' ? i % 2 === 0 : i % 2 === 1))
          .map((i) => [ns(i * 1000), `${task} ${stream} message ${i}${i % 5 === 0 ? ' ERROR boom' : ''}`]);
      for (const task of ['build.compile', 'test.unit']) {
        for (const stream of ['stdout', 'stderr']) {
          const source = task === 'build.compile' ? 'container' : 'engine';
          const answer = await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, run, task, stream, source, team: task === 'test.unit' ? 'qa' : 'dev' }, values: values(stream, task) }] });
          expect(answer.status).toBe(204);
        }
      }
    });

    const texts = async (query: string, token = logs.users.acmeAdmin.token) => {
      const answer = await logs.call('GET', `/api/v1/logs?run=${run}&${query}`, token);
      expect(answer.status).toBe(200);
      return answer.body.lines.map((line: any) => line.text) as string[];
    };

    it('filters by task, stream, source, label, time, substring and regex', async () => {
      expect((await texts('task=test.unit')).every((text) => text.startsWith('test.unit'))).toBe(true);
      expect(await texts('task=test.unit')).toHaveLength(30);
      expect((await texts('stream=stderr')).every((text) => text.includes('stderr'))).toBe(true);
      expect(await texts('stream=stderr')).toHaveLength(30);
      expect((await texts('source=engine')).every((text) => text.startsWith('test.unit'))).toBe(true);
      expect(await texts('label.team=dev')).toHaveLength(30);
      expect(await texts(`since=${ns(10_000)}&until=${ns(12_000)}&task=build.compile`)).toEqual([
        'build.compile stdout message 10 ERROR boom',
        'build.compile stderr message 11',
        'build.compile stdout message 12',
      ]);
      expect(await texts(`since=2026-03-01T12:00:28Z&task=test.unit`)).toEqual(['test.unit stdout message 28', 'test.unit stderr message 29']);
      expect(await texts('contains=ERROR&task=build.compile')).toHaveLength(6);
      expect(await texts(`regex=${encodeURIComponent('message (1|2)5 ')}`)).toHaveLength(4);
      expect(await logs.call('GET', `/api/v1/runs/${run}/tasks/test.unit/logs?stream=stdout&limit=3`, logs.users.acmeViewer.token).then((a) => a.body.lines.map((l: any) => l.text))).toEqual([
        'test.unit stdout message 0 ERROR boom',
        'test.unit stdout message 2',
        'test.unit stdout message 4',
      ]);
    });

    it('refuses a bad regex, a dangerous one, a bad limit and a foreign cursor with 400', async () => {
      const invalid = await logs.call('GET', `/api/v1/logs?regex=${encodeURIComponent('(unclosed')}`, logs.users.acmeAdmin.token);
      expect(invalid.status).toBe(400);
      expect(invalid.body.error.code).toBe('LOGS.INVALID_REGEX');
      expect((await logs.call('GET', `/api/v1/logs?regex=${encodeURIComponent('(a+)+$')}`, logs.users.acmeAdmin.token)).body.error.code).toBe('LOGS.INVALID_REGEX');
      expect((await logs.call('GET', `/api/v1/logs?regex=${'a'.repeat(257)}`, logs.users.acmeAdmin.token)).body.error.code).toBe('LOGS.INVALID_REGEX');
      expect((await logs.call('GET', '/api/v1/logs?limit=5001', logs.users.acmeAdmin.token)).status).toBe(400);
      expect((await logs.call('GET', '/api/v1/logs?cursor=garbage', logs.users.acmeAdmin.token)).body.error.code).toBe('LOGS.INVALID_CURSOR');
    });

    it('pages forward and backward with cursors, without gap or repeat', async () => {
      const all = await texts('limit=5000');
      expect(all).toHaveLength(60);
      const walk = async (direction: string) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const answer = await logs.call('GET', `/api/v1/runs/${run}/logs?limit=7&direction=${direction}${cursor ? `&cursor=${cursor}` : ''}`, logs.users.acmeViewer.token);
          expect(answer.status).toBe(200);
          expect(answer.body.lines.length).toBeLessThanOrEqual(7);
          seen.push(...answer.body.lines.map((line: any) => line.text));
          cursor = answer.body.next;
        } while (cursor);
        return seen;
      };
      expect(await walk('forward')).toEqual(all);
      expect(await walk('backward')).toEqual([...all].reverse());
      const forwardCursor = (await logs.call('GET', `/api/v1/runs/${run}/logs?limit=2`, logs.users.acmeViewer.token)).body.next;
      expect((await logs.call('GET', `/api/v1/runs/${run}/logs?limit=2&direction=backward&cursor=${forwardCursor}`, logs.users.acmeViewer.token)).status).toBe(400);
    });

    it('lists only what the caller may view', async () => {
      expect(await texts('limit=10', logs.users.globexAdmin.token)).toEqual([]);
      expect(await texts('limit=10', logs.users.acmeViewer.token)).toHaveLength(10);
      expect(await texts('limit=10&org=globex', logs.users.acmeViewer.token)).toEqual([]);
    });

    it('downloads the whole log as gzip text, one entry per line, in time order', async () => {
      const answer = await logs.call('GET', `/api/v1/runs/${run}/logs/download`, logs.users.acmeViewer.token);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/gzip');
      expect(answer.headers.get('content-disposition')).toBe(`attachment; filename="${run}.log.gz"`);
      const text = gunzipSync(answer.body as Buffer).toString('utf8');
      const lines = text.trimEnd().split('\n');
      expect(lines).toHaveLength(60);
      expect(lines[0]).toBe('2026-03-01T12:00:00.000000000Z build.compile stdout build.compile stdout message 0 ERROR boom');
      expect(lines[1]).toBe('2026-03-01T12:00:00.000000000Z test.unit stdout test.unit stdout message 0 ERROR boom');
      const task = await logs.call('GET', `/api/v1/runs/${run}/tasks/test.unit/logs/download`, logs.users.acmeViewer.token);
      const taskLines = gunzipSync(task.body as Buffer).toString('utf8').trimEnd().split('\n');
      expect(taskLines).toHaveLength(30);
      expect(taskLines.every((line) => line.split(' ')[1] === 'test.unit')).toBe(true);
      expect(task.headers.get('content-disposition')).toBe(`attachment; filename="${run}-test.unit.log.gz"`);
    });
  });

  it('keeps a run with the project of its first line', async () => {
    const run = randomUUID();
    expect((await push(logs.users.acmeAdmin.token, { streams: [{ stream: { ...ACME, run }, values: [[ns(0), 'mine']] }] })).status).toBe(204);
    const stolen = await push(logs.users.globexAdmin.token, { streams: [{ stream: { ...GLOBEX, run }, values: [[ns(1), 'theirs']] }] });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error.code).toBe('LOGS.RUN_OF_OTHER_PROJECT');
  });

  // Last: it restarts logarithm.
  it('still stores a replayed task log once after a restart (positions are read back from the database)', async () => {
    const run = randomUUID();
    const message = (seqs: number[], id: string) => taskLogMessage(logs.prefix, run, 'build.compile', seqs, id);
    const read = (least: number) =>
      eventually(async () => {
        const answer = await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.acmeAdmin.token);
        return answer.status === 200 && answer.body.lines.length >= least ? answer.body.lines : undefined;
      }, 15_000, `${least} task log lines`);
    await logs.service.runtime.bus.publish(message([0, 1, 2], `${run}/before`));
    await read(3);
    await logs.restart();
    await logs.service.runtime.bus.publish(message([0, 1, 2, 3, 4], `${run}/after`));
    await read(5);
    // A marker after the replay: once it is in, the replay was handled before it.
    await logs.service.runtime.bus.publish(message([5], `${run}/marker`));
    const all = await read(6);
    expect(all.map((line: any) => line.text)).toEqual([0, 1, 2, 3, 4, 5].map((seq) => `line ${seq}`));
  });
});
