import type { DeliveredMessage } from '@co/bus';
import { InvalidInputError } from '@co/common';
import { taskLogLines } from './bus-ingest';

const line = { task: 'build.compile', attempt: 1, source: 'container', seq: 0, stream: 'stdout', time: '2026-03-01T12:00:00Z', text: 'compiling' };

function message(data: Record<string, unknown>, headers: Record<string, string> = {}): DeliveredMessage {
  return { id: 'm1', subject: 'co.pilotage.tasklog.run-1', data: { runId: 'run-1', workflowId: 'wf-1', project: 'acme/web', lines: [line], ...data }, headers, deliveryCount: 1 };
}

function refusal(data: Record<string, unknown>): InvalidInputError {
  try {
    taskLogLines(message(data));
  } catch (error) {
    return error as InvalidInputError;
  }
  throw new Error('the message was taken');
}

describe('pilotage task log messages', () => {
  it('labels each line with the tenant, run, task and its parts', () => {
    const [parsed] = taskLogLines(message({}));
    expect(parsed.labels).toEqual({
      org: 'acme',
      project: 'web',
      workflow: 'wf-1',
      run: 'run-1',
      task: 'build.compile',
      stage: 'build',
      action: 'compile',
      attempt: '1',
      stream: 'stdout',
      source: 'container',
    });
    expect(parsed.origin).toEqual({ key: 'tasklog/run-1/build.compile/1/container', position: 0 });
    expect(taskLogLines(message({ project: 'web' }, { 'Co-Tenant': 'acme' }))[0].labels).toMatchObject({ org: 'acme', project: 'web' });
  });

  it.each([
    ['a text that is no string', { lines: [{ ...line, text: 42 }] }],
    ['a seq that is no whole number', { lines: [{ ...line, seq: 'x' }] }],
    ['another stream', { lines: [{ ...line, stream: 'stdlog' }] }],
    ['a task without its action', { lines: [{ ...line, task: 'build' }] }],
    ['a task longer than its index column', { lines: [{ ...line, task: `build.${'a'.repeat(190)}` }] }],
    ['a source longer than its index column', { lines: [{ ...line, source: 's'.repeat(192) }] }],
    ['no source', { lines: [{ ...line, source: undefined }] }],
    ['an attempt that is no number', { lines: [{ ...line, attempt: {} }] }],
    ['a bad time', { lines: [{ ...line, time: 'yesterday' }] }],
    ['a line that is no object', { lines: [null] }],
    ['a run id longer than its index column', { runId: 'r'.repeat(192) }],
    ['a project without its organization', { project: 'web' }],
    ['a project that is no slug', { project: 'Acme/Web' }],
  ])('refuses a message with %s (LOGS.INVALID_TASKLOG)', (_, data) => {
    const error = refusal(data);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('LOGS.INVALID_TASKLOG');
  });
});
