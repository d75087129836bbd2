import type { Response } from 'express';
import type { DomainError } from '@co/common';
import type { EndedRun } from '../runs/run-ends';
import { isoTime, type StoredLogLine } from '../storage/log-line';
import type { TailSink } from './run-tail';

/** Labels serialized once per labels object: a commit's lines of one stream share one. */
const labelsJson = new WeakMap<object, string>();

/** JSON.stringify(lineView(line)), keys in the same order, built without the intermediate object: SSE sends every line this way. */
export function lineJson(line: StoredLogLine): string {
  let labels = labelsJson.get(line.labels);
  if (labels === undefined) {
    labels = JSON.stringify(line.labels);
    labelsJson.set(line.labels, labels);
  }
  return `{"seq":"${line.seq}","ts":"${line.ts}","time":"${isoTime(line.ts)}","labels":${labels},"text":${JSON.stringify(line.text)}${line.truncated ? ',"truncated":true' : ''}}`;
}

export function endMessage(ended: EndedRun): Record<string, unknown> {
  return { run: ended.run, outcome: ended.outcome, endedAt: ended.endedAt.toISOString() };
}

export function errorMessage(error: DomainError): Record<string, unknown> {
  return { error: { code: error.code, message: error.message } };
}

/**
 * Server-Sent Events on an HTTP response: `id: <seq>` and `data: <line JSON>` per line
 * (so that a reconnecting EventSource sends `Last-Event-ID`), `event: end` and
 * `event: error` before closing, `: heartbeat` comments. Lines handed to the socket but
 * not yet flushed count as the client's backlog.
 */
export class SseSink implements TailSink {
  private unflushed = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly res: Response) {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // Reverse proxies (nginx) would otherwise hold lines back until their buffer fills.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.on('drain', () => this.wake());
    res.on('close', () => this.wake());
  }

  line(line: StoredLogLine): void {
    this.write(`id: ${line.seq}\ndata: ${lineJson(line)}\n\n`);
  }

  backlog(): { lines: number; bytes: number } {
    return { lines: this.unflushed, bytes: this.res.writableLength };
  }

  drained(): Promise<void> {
    if (this.res.destroyed || this.res.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  heartbeat(): void {
    this.write(': heartbeat\n\n');
  }

  end(ended: EndedRun): void {
    this.write(`event: end\ndata: ${JSON.stringify(endMessage(ended))}\n\n`);
    this.res.end();
  }

  fail(error: DomainError): void {
    this.write(`event: error\ndata: ${JSON.stringify(errorMessage(error))}\n\n`);
    this.res.end();
  }

  private write(chunk: string): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    this.unflushed += 1;
    this.res.write(chunk, () => (this.unflushed -= 1));
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
