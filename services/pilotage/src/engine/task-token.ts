import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The per-task token a component presents on the HTTP event endpoint: an HMAC of the
 * run, task and attempt under the engine's secret. Nothing is stored per task, and a
 * token is worth nothing for any other task or attempt.
 */
export class TaskTokens {
  constructor(private readonly secret: Buffer) {}

  issue(runId: string, task: string, attempt: number): string {
    return createHmac('sha256', this.secret).update(`${runId}/${task}/${attempt}`).digest('base64url');
  }

  verify(runId: string, task: string, attempt: number, token: string): boolean {
    const expected = Buffer.from(this.issue(runId, task, attempt));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
