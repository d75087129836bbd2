import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import { NATS_URL } from '../../../test/support/infra';
import { ACME, startLogarithm, type TestLogarithm } from './support/logarithm';

/** One Server-Sent Event as a client sees it. */
interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** An open SSE stream: events as they come, and a promise of its end (the server closed it). */
interface SseStream {
  status: number;
  body?: any;
  events: SseEvent[];
  closed: Promise<void>;
  /** Resolves once `predicate` holds; rejects when the stream closes first or after `timeoutMs`. */
  until(predicate: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  abort(): void;
}

/** Opens a live tail the way an EventSource would, and reads it as it comes. */
async function openSse(url: string, token: string | null, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((wake) => wake());
  if (response.status !== 200) {
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, events, closed: Promise.resolve(), until: async () => undefined, abort: () => undefined };
  }
  let ended = false;
  const closed = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let split: number;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const event: SseEvent = { event: 'message', data: undefined };
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
          }
          if (data === undefined) continue;
          event.data = JSON.parse(data);
          events.push(event);
          notify();
        }
      }
    } catch {
      // aborted by the test
    } finally {
      ended = true;
      notify();
    }
  })();
  return {
    status: response.status,
    events,
    closed,
    abort: () => controller.abort(),
    until(predicate, what, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${what} after ${timeoutMs} ms; got ${JSON.stringify(events.slice(-3))}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(events)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (ended) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`the stream closed before ${what}; got ${JSON.stringify(events.slice(-3))}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** An open WebSocket tail: messages as they come, and its close. */
async function openWs(url: string, options: { token?: string; protocols?: string[] }): Promise<{ messages: any[]; closed: Promise<{ code: number; reason: string }>; ws: WebSocket }> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body: body ? JSON.parse(body) : undefined })));
    });
    ws.once('error', reject);
  });
  return { messages, closed, ws };
}

describe('logarithm: live tail', () => {
  let logs: TestLogarithm;
  let nats: NatsConnection;
  let base: string;
  let wsBase: string;
  let clock = BigInt(Date.now()) * 1_000_000n;

  /** Publishes a pilotage run event on JetStream exactly as pilotage's outbox relay does. */
  async function publishRunEvent(streamId: string, type: string, data: Record<string, unknown>) {
    const id = randomUUID();
    const envelope = { position: 1, id, streamId, streamVersion: 1, type, schemaVersion: 1, data, metadata: {}, service: 'pilotage', occurredAt: new Date().toISOString() };
    const headers = natsHeaders();
    headers.set('Co-Event-Type', type);
    await nats.jetstream().publish(`${logs.prefix}.pilotage.run.${type}`, new TextEncoder().encode(JSON.stringify(envelope)), { msgID: id, headers });
  }

  async function startRun(): Promise<{ run: string; streamId: string }> {
    const run = randomUUID();
    const streamId = `run-${randomUUID()}.1`;
    await publishRunEvent(streamId, 'RunRequested', { runId: run, workflowId: 'wf', workflowName: 'build', project: `${ACME.org}/${ACME.project}`, number: 1 });
    return { run, streamId };
  }

  /** Pushes lines of a run (texts given), each batch acknowledged before this resolves. */
  async function push(run: string, texts: string[], task = 'build.compile') {
    const values = texts.map((text) => [String((clock += 1000n)), text]);
    const answer = await logs.call('POST', '/api/v1/logs/push', logs.users.acmeAdmin.token, {
      streams: [{ stream: { org: ACME.org, project: ACME.project, run, task, stream: 'stdout', source: 'container' }, values }],
    });
    if (answer.status !== 204) throw new Error(`push answered ${answer.status} ${answer.text}`);
  }

  const texts = (events: SseEvent[]) => events.filter((event) => event.event === 'message').map((event) => event.data.text as string);
  const seqs = (events: SseEvent[]) => events.filter((event) => event.event === 'message').map((event) => BigInt(event.data.seq));

  function expectStrictlyIncreasing(list: bigint[]) {
    for (let i = 1; i < list.length; i++) if (list[i] <= list[i - 1]) throw new Error(`seq ${list[i]} after ${list[i - 1]} at ${i}`);
  }

  beforeAll(async () => {
    logs = await startLogarithm({ CO_LOGARITHM_TAIL_END_GRACE_MS: '300', CO_LOGARITHM_TAIL_HEARTBEAT_SECONDS: '1', CO_LOGARITHM_TAIL_MAX_QUEUED_LINES: '2000' });
    nats = await connect({ servers: NATS_URL });
    base = `${logs.url}/api/v1/runs`;
    wsBase = `${logs.url.replace(/^http/, 'ws')}/api/v1/runs`;
  });

  afterAll(async () => {
    await nats?.close();
    await logs?.close();
  });

  it('joins history and live lines with no line lost or repeated, and closes at the run end', async () => {
    const { run, streamId } = await startRun();
    const pushedTexts: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const lines = Array.from({ length: 500 }, (_, i) => `history ${batch * 500 + i}`);
      await push(run, lines);
      pushedTexts.push(...lines);
    }
    // Three writers keep lines coming while ten clients join one after another, each
    // catching up on history while new lines are being stored.
    const writers = [0, 1, 2].map(async (writer) => {
      for (let batch = 0; batch < 40; batch++) {
        const lines = Array.from({ length: 10 }, (_, i) => `live ${writer}.${batch * 10 + i}`);
        pushedTexts.push(...lines);
        await push(run, lines);
      }
    });
    const streams: SseStream[] = [];
    for (let client = 0; client < 10; client++) {
      streams.push(await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token));
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await Promise.all(writers);
    for (const stream of streams) expect(stream.status).toBe(200);
    // (A tail that lost lines would wait here in vain: the comparison below tells which.)
    await Promise.all(streams.map((stream) => stream.until((events) => texts(events).length >= pushedTexts.length, 'every line', 10_000).catch(() => undefined)));
    for (const stream of streams) expect(stream.events.some((event) => event.event === 'end')).toBe(false);
    await publishRunEvent(streamId, 'RunSucceeded', { at: new Date().toISOString() });
    await Promise.all(streams.map((stream) => stream.closed));
    // The whole log read once the run is over: every line pushed, once.
    const reference = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token);
    await reference.closed;
    expect([...texts(reference.events)].sort()).toEqual([...pushedTexts].sort());
    const referenceLines = reference.events.filter((event) => event.event === 'message').map((event) => `${event.data.seq} ${event.data.text}`);
    expectStrictlyIncreasing(seqs(reference.events));
    for (const stream of streams) {
      const last = stream.events[stream.events.length - 1];
      expect(last.event).toBe('end');
      expect(last.data).toMatchObject({ run, outcome: 'succeeded' });
      expect(stream.events.filter((event) => event.event === 'message').map((event) => `${event.data.seq} ${event.data.text}`)).toEqual(referenceLines);
      // Every line event carries its seq as the SSE id, so that Last-Event-ID resumes.
      for (const event of stream.events.filter((e) => e.event === 'message')) expect(event.id).toBe(event.data.seq);
    }
  });

  it('resumes after an offset (Last-Event-ID wins over ?after=), per task too', async () => {
    const { run, streamId } = await startRun();
    await push(run, ['a0', 'a1', 'a2', 'a3'], 'build.compile');
    await push(run, ['b0', 'b1'], 'test.unit');
    await publishRunEvent(streamId, 'RunFailed', { at: new Date().toISOString() });
    const all = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token);
    await all.closed;
    expect(texts(all.events)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1']);
    expect(all.events[all.events.length - 1]).toMatchObject({ event: 'end', data: { outcome: 'failed' } });
    const seqOf = (text: string) => all.events.find((event) => event.data.text === text)!.data.seq as string;

    const after = await openSse(`${base}/${run}/logs/stream?after=${seqOf('a1')}`, logs.users.acmeViewer.token);
    await after.closed;
    expect(texts(after.events)).toEqual(['a2', 'a3', 'b0', 'b1']);

    const resumed = await openSse(`${base}/${run}/logs/stream?after=${seqOf('a0')}`, logs.users.acmeViewer.token, { 'last-event-id': seqOf('a3') });
    await resumed.closed;
    expect(texts(resumed.events)).toEqual(['b0', 'b1']);

    const task = await openSse(`${base}/${run}/tasks/build.compile/logs/stream?after=${seqOf('a0')}`, logs.users.acmeViewer.token);
    await task.closed;
    expect(texts(task.events)).toEqual(['a1', 'a2', 'a3']);

    const bad = await openSse(`${base}/${run}/logs/stream?after=yesterday`, logs.users.acmeViewer.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('LOGS.INVALID_OFFSET');
  });

  it('answers 404 to another organization and 401 without credentials', async () => {
    const { run } = await startRun();
    await push(run, ['secret plans']);
    const other = await openSse(`${base}/${run}/logs/stream`, logs.users.globexAdmin.token);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('LOGS.RUN_NOT_FOUND');
    const otherTask = await openSse(`${base}/${run}/tasks/build.compile/logs/stream`, logs.users.globexAdmin.token);
    expect(otherTask.status).toBe(404);
    const unknown = await openSse(`${base}/${randomUUID()}/logs/stream`, logs.users.acmeViewer.token);
    expect(unknown.status).toBe(404);
    const anonymous = await openSse(`${base}/${run}/logs/stream`, null);
    expect(anonymous.status).toBe(401);

    await expect(openWs(`${wsBase}/${run}/logs/stream/ws`, { token: logs.users.globexAdmin.token })).rejects.toMatchObject({
      status: 404,
      body: { error: { code: 'LOGS.RUN_NOT_FOUND' } },
    });
    await expect(openWs(`${wsBase}/${run}/logs/stream/ws`, {})).rejects.toMatchObject({ status: 401 });
  });

  it('serves the same over a WebSocket, with the token in the Authorization header or as a subprotocol', async () => {
    const { run, streamId } = await startRun();
    const expected: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const lines = Array.from({ length: 300 }, (_, i) => `ws history ${batch * 300 + i}`);
      await push(run, lines);
      expected.push(...lines);
    }
    const tail = await openWs(`${wsBase}/${run}/logs/stream/ws`, { token: logs.users.acmeViewer.token });
    const browser = await openWs(`${wsBase}/${run}/tasks/build.compile/logs/stream/ws?after=0`, {
      protocols: ['containerops.logs.v1', `bearer.${logs.users.acmeViewer.token}`],
    });
    expect(browser.ws.protocol).toBe('containerops.logs.v1');
    for (let batch = 0; batch < 30; batch++) {
      const lines = Array.from({ length: 20 }, (_, i) => `ws live ${batch * 20 + i}`);
      await push(run, lines);
      expected.push(...lines);
    }
    const lineTexts = (messages: any[]) => messages.filter((message) => message.type === 'line').map((message) => message.text);
    const deadline = Date.now() + 30_000;
    while ((lineTexts(tail.messages).length < expected.length || lineTexts(browser.messages).length < expected.length) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await publishRunEvent(streamId, 'RunStopped', { at: new Date().toISOString() });
    const [closedTail, closedBrowser] = await Promise.all([tail.closed, browser.closed]);
    expect(closedTail.code).toBe(1000);
    expect(closedBrowser.code).toBe(1000);
    for (const client of [tail, browser]) {
      expect(lineTexts(client.messages)).toEqual(expected);
      const numbers = client.messages.filter((message) => message.type === 'line').map((message) => BigInt(message.seq));
      expectStrictlyIncreasing(numbers);
      expect(client.messages[client.messages.length - 1]).toMatchObject({ type: 'end', run, outcome: 'stopped' });
    }
  });

  it('follows a run from before its first line, learning its owner from pilotage', async () => {
    const { run, streamId } = await startRun();
    // Until the run's request is consumed the run is unknown; then the stream opens although no line is stored.
    let stream: SseStream | undefined;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      stream = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token);
      if (stream.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stream!.status).toBe(200);
    const stranger = await openSse(`${base}/${run}/logs/stream`, logs.users.globexAdmin.token);
    expect(stranger.status).toBe(404);
    await push(run, ['first', 'second']);
    await stream!.until((events) => texts(events).length === 2, 'two lines');
    await publishRunEvent(streamId, 'RunTimedOut', { at: new Date().toISOString() });
    await stream!.closed;
    expect(texts(stream!.events)).toEqual(['first', 'second']);
    expect(stream!.events[stream!.events.length - 1]).toMatchObject({ event: 'end', data: { outcome: 'timed_out' } });
  });

  it('drops a client that does not read, with an error event after the last line it was sent', async () => {
    const { run } = await startRun();
    await push(run, ['before']);
    // A client that stops reading: the socket buffers fill, then the unread lines pile up.
    const response = await new Promise<IncomingMessage>((resolve) =>
      httpGet(`${base}/${run}/logs/stream`, { headers: { authorization: `Bearer ${logs.users.acmeViewer.token}` } }, resolve),
    );
    expect(response.statusCode).toBe(200);
    response.pause();
    const filler = 'y'.repeat(1000);
    for (let batch = 0; batch < 40; batch++) await push(run, Array.from({ length: 500 }, (_, i) => `${batch * 500 + i} ${filler}`));
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.resume();
    await new Promise((resolve) => response.on('end', resolve));
    const blocks = text.split('\n\n').filter((block) => block.includes('data: '));
    const last = blocks[blocks.length - 1];
    expect(last).toMatch(/^event: error$/m);
    expect(JSON.parse(/^data: (.*)$/m.exec(last)![1])).toMatchObject({ error: { code: 'LOGS.TAIL_TOO_SLOW' } });
    // What it did get is a gapless beginning: it resumes from the last id.
    const got = blocks.slice(0, -1).map((block) => JSON.parse(/^data: (.*)$/m.exec(block)![1]).text as string);
    expect(got[0]).toBe('before');
    expect(got.length).toBeLessThan(20_001);
    got.slice(1).forEach((line, index) => expect(line.split(' ')[0]).toBe(String(index)));
    const lastId = /^id: (.*)$/m.exec(blocks[blocks.length - 2])![1];
    const resumed = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token, { 'last-event-id': lastId });
    await resumed.until((events) => texts(events).length === 20_001 - got.length, 'the rest of the log');
    expect(texts(resumed.events)[0].split(' ')[0]).toBe(String(got.length - 1));
    resumed.abort();
  });

  it('closes open tails when logarithm stops, so that it stops at once and clients resume', async () => {
    const { run } = await startRun();
    await push(run, ['one', 'two']);
    const stream = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token);
    const socket = await openWs(`${wsBase}/${run}/logs/stream/ws`, { token: logs.users.acmeViewer.token });
    await stream.until((events) => texts(events).length === 2, 'history');
    await logs.restart();
    await stream.closed;
    expect(stream.events[stream.events.length - 1]).toMatchObject({ event: 'error', data: { error: { code: 'LOGS.TAIL_STOPPING' } } });
    expect((await socket.closed).code).toBe(1001);
    expect(socket.messages[socket.messages.length - 1]).toMatchObject({ type: 'error', error: { code: 'LOGS.TAIL_STOPPING' } });
    const lastId = stream.events.filter((event) => event.event === 'message').pop()!.id!;
    await push(run, ['three']);
    const resumed = await openSse(`${base}/${run}/logs/stream`, logs.users.acmeViewer.token, { 'last-event-id': lastId });
    await resumed.until((events) => texts(events).length === 1, 'the line after the restart');
    expect(texts(resumed.events)).toEqual(['three']);
    resumed.abort();
  });
});
