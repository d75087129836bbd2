import { randomUUID } from 'node:crypto';
import { toMessage, type RecordedEvent } from '@co/eventstore';
import { call, type TestCrew } from '../support/crew';

export const ADMIN_PASSWORD = 'bootstrap-Admin-pass-42';
export const USER_PASSWORD = 'a-long-user-passphrase';

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function basic(username: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` };
}

/** An access token of `username` (password login). */
export async function accessToken(crew: TestCrew, username: string, password = username === 'admin' ? ADMIN_PASSWORD : USER_PASSWORD): Promise<string> {
  const answer = await call(crew.url, 'POST', '/api/v1/auth/login', { username, password });
  if (answer.status !== 200) throw new Error(`login of ${username} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.accessToken as string;
}

/** Calls that must succeed: anything else fails the test with the answer. */
export async function ok<T = any>(crew: TestCrew, method: string, path: string, body: unknown, headers: Record<string, string>, status?: number): Promise<T> {
  const answer = await call<T>(crew.url, method, path, body, headers);
  if (answer.status >= 300 || (status !== undefined && answer.status !== status)) {
    throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

export async function createUser(crew: TestCrew, admin: Record<string, string>, username: string): Promise<string> {
  const user = await ok(crew, 'POST', '/api/v1/users', { username, password: USER_PASSWORD, email: `${username}@example.com` }, admin, 201);
  return user.id as string;
}

/** An organization with one project, created by the platform administrator. */
export async function createProject(crew: TestCrew, admin: Record<string, string>, org: string, project: string): Promise<void> {
  await ok(crew, 'POST', '/api/v1/orgs', { name: org }, admin);
  await ok(crew, 'POST', `/api/v1/orgs/${org}/projects`, { name: project }, admin);
}

export async function addMember(crew: TestCrew, admin: Record<string, string>, org: string, project: string, username: string, role: string): Promise<void> {
  await ok(crew, 'POST', `/api/v1/orgs/${org}/projects/${project}/members`, { username, role }, admin);
}

/**
 * Publishes one of dockyard's workspace events on the real bus, built exactly as
 * dockyard's outbox relay builds it (subject `<prefix>.dockyard.workspace.<type>`).
 */
export async function publishWorkspaceEvent(
  crew: TestCrew,
  streamId: string,
  streamVersion: number,
  type: string,
  data: Record<string, unknown>,
): Promise<void> {
  const event: RecordedEvent = {
    position: Date.now(),
    id: randomUUID(),
    streamId,
    streamVersion,
    type,
    schemaVersion: 1,
    data,
    metadata: { actor: 'user:test' },
    occurredAt: new Date(),
  };
  const bus = crew.service.runtime.bus;
  await bus.ensureStream('dockyard');
  await bus.publish(toMessage('dockyard', `${crew.service.runtime.config.bus.subjectPrefix}.dockyard.workspace.${type}`, event, {}));
}
