import { randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { eventually, NATS_URL } from '../../../test/support/infra';
import { ACME, startLogarithm, type TestLogarithm } from './support/logarithm';

/** Reads a whole SSE answer (the stream of an ended run closes by itself). */
async function readStream(url: string, token: string): Promise<{ status: number; events: { event: string; data: any }[] }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status, events: [] };
  const events = text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]) };
    });
  return { status: response.status, events };
}

describe('logarithm: runs followed from pilotage', () => {
  let logs: TestLogarithm;
  let nats: NatsConnection;

  /** Publishes one of pilotage's events; `msgID` (JetStream's de-duplication key) is the event's id unless given. */
  async function publish(streamId: string, type: string, data: Record<string, unknown>, id = randomUUID(), msgID = id) {
    const envelope = { position: 1, id, streamId, streamVersion: 1, type, schemaVersion: 1, data, metadata: {}, service: 'pilotage', occurredAt: new Date().toISOString() };
    const headers = natsHeaders();
    headers.set('Co-Event-Type', type);
    await nats.jetstream().publish(`${logs.prefix}.pilotage.run.${type}`, new TextEncoder().encode(JSON.stringify(envelope)), { msgID, headers });
  }

  beforeAll(async () => {
    logs = await startLogarithm({ CO_LOGARITHM_TAIL_END_GRACE_MS: '200' });
    nats = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nats?.close();
    await logs?.close();
  });

  it('takes an end that arrives before the run request, and keeps the first end of a run', async () => {
    const run = randomUUID();
    const streamId = `run-${randomUUID()}.7`;
    await publish(streamId, 'RunFailed', { at: new Date().toISOString(), reason: 'a task failed' });
    await publish(streamId, 'TaskQueued', { stage: 'build', action: 'compile', attempt: 1 });
    await publish(streamId, 'RunRequested', { runId: run, workflowId: 'wf', workflowName: 'build', project: `${ACME.org}/${ACME.project}`, number: 7 });
    await publish(streamId, 'RunSucceeded', { at: new Date().toISOString() });
    // No line of the run is stored: the run is known from pilotage's events alone.
    const ended = await eventually(
      async () => {
        const answer = await readStream(`${logs.url}/api/v1/runs/${run}/logs/stream`, logs.users.acmeViewer.token);
        return answer.status === 200 ? answer : undefined;
      },
      15_000,
      'the run to be known',
    );
    expect(ended.events).toEqual([{ event: 'end', data: { run, outcome: 'failed', endedAt: expect.any(String) } }]);
    const stranger = await readStream(`${logs.url}/api/v1/runs/${run}/logs/stream`, logs.users.globexAdmin.token);
    expect(stranger.status).toBe(404);
    // The run is acme/web's for every path: queries answer it (empty), and no other project may push lines of it.
    const read = await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.acmeViewer.token);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ lines: [] });
    expect((await logs.call('GET', `/api/v1/runs/${run}/logs`, logs.users.globexAdmin.token)).status).toBe(404);
    const stolen = await logs.call('POST', '/api/v1/logs/push', logs.users.globexAdmin.token, { streams: [{ stream: { org: 'globex', project: 'ops', run }, values: [['1772366400000000000', 'theirs']] }] });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error.code).toBe('LOGS.RUN_OF_OTHER_PROJECT');
  });

  it('ignores a run request without a valid project, and absorbs a redelivered one', async () => {
    const run = randomUUID();
    const streamId = `run-${randomUUID()}.1`;
    await publish(streamId, 'RunRequested', { runId: run, workflowId: 'wf', project: 'no-slash', number: 1 });
    const requested = randomUUID();
    const other = randomUUID();
    const otherStream = `run-${randomUUID()}.1`;
    await publish(otherStream, 'RunRequested', { runId: other, workflowId: 'wf', project: `${ACME.org}/${ACME.project}`, number: 1 }, requested);
    // The same event published again past JetStream's de-duplication (a new message id): logarithm must absorb it.
    await publish(otherStream, 'RunRequested', { runId: other, workflowId: 'wf', project: `${ACME.org}/${ACME.project}`, number: 1 }, requested, randomUUID());
    await publish(otherStream, 'RunStopped', { at: new Date().toISOString() });
    const stopped = await eventually(
      async () => {
        const answer = await readStream(`${logs.url}/api/v1/runs/${other}/logs/stream`, logs.users.acmeViewer.token);
        return answer.status === 200 ? answer : undefined;
      },
      15_000,
      'the other run to be known',
    );
    expect(stopped.events).toEqual([{ event: 'end', data: { run: other, outcome: 'stopped', endedAt: expect.any(String) } }]);
    // Consumed in order: the invalid request came first, and left the run unknown.
    expect((await readStream(`${logs.url}/api/v1/runs/${run}/logs/stream`, logs.users.acmeViewer.token)).status).toBe(404);
    const db = logs.service.runtime.db;
    expect(await db.query('SELECT stream_id FROM logarithm_runs WHERE stream_id = ? OR run_id = ?', [streamId, run])).toEqual([]);
    expect(await db.query('SELECT run_id, org, project, outcome FROM logarithm_runs WHERE stream_id = ?', [otherStream])).toEqual([{ run_id: other, org: 'acme', project: 'web', outcome: 'stopped' }]);
  });
});
