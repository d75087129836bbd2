import { Controller, Module, Param, Post } from '@nestjs/common';
import { NotFoundError } from '@co/common';
import { AuditRefusalsOnly, Public } from '@co/auth';
import { startService, type RunningService } from '@co/service-kit';
import { eventually } from '../../../test/support/infra';
import { testServiceConfig } from '../../../test/support/services';
import { call, startCrew, type TestCrew } from './support/crew';

const ADMIN_PASSWORD = 'bootstrap-Admin-pass-42';
const PASSWORD = 'a-long-enough-passphrase';

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** A service with one audited call, to show that other services' records reach crew. */
@Controller('api/v1/things')
class ThingsController {
  @Post(':id')
  @Public()
  touch(@Param('id') id: string) {
    if (id === 'missing') throw new NotFoundError('THING.NOT_FOUND', 'No thing named missing.');
    return { id };
  }

  @Post(':id/events')
  @Public()
  @AuditRefusalsOnly('frequent machine calls, recorded by the service itself')
  report(@Param('id') id: string) {
    if (id === 'missing') throw new NotFoundError('THING.NOT_FOUND', 'No thing named missing.');
    return { id };
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

describe('crew: audit trail', () => {
  let crew: TestCrew;
  let admin: Record<string, string>;
  const users: Record<string, Record<string, string>> = {};

  async function login(username: string, password: string) {
    return call(crew.url, 'POST', '/api/v1/auth/login', { username, password });
  }

  async function audit(query: string, headers: Record<string, string> = admin) {
    return call(crew.url, 'GET', `/api/v1/audit${query}`, undefined, headers);
  }

  /** Waits until the records that `query` finds number at least `count`. */
  async function recorded(query: string, count = 1) {
    return eventually(async () => {
      const answer = await audit(query);
      expect(answer.status).toBe(200);
      return answer.body.items.length >= count ? answer.body.items : undefined;
    }, 15_000, `audit records for ${query}`);
  }

  beforeAll(async () => {
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD });
    admin = bearer((await login('admin', ADMIN_PASSWORD)).body.accessToken);
    for (const username of ['alice', 'bob', 'carol']) {
      const created = await call(crew.url, 'POST', '/api/v1/users', { username, password: PASSWORD, email: `${username}@example.com` }, admin);
      expect(created.status).toBe(201);
    }
    for (const org of ['acme', 'globex']) expect((await call(crew.url, 'POST', '/api/v1/orgs', { name: org }, admin)).status).toBe(201);
    expect((await call(crew.url, 'POST', '/api/v1/orgs/acme/members', { username: 'alice', role: 'org-admin' }, admin)).status).toBe(201);
    expect((await call(crew.url, 'POST', '/api/v1/orgs/acme/members', { username: 'bob', role: 'member' }, admin)).status).toBe(201);
    expect((await call(crew.url, 'POST', '/api/v1/orgs/globex/members', { username: 'carol', role: 'org-admin' }, admin)).status).toBe(201);
    for (const username of ['alice', 'bob', 'carol']) users[username] = bearer((await login(username, PASSWORD)).body.accessToken);
  });
  afterAll(async () => {
    await crew?.close();
  });

  it('records a mutating call with who, what, where, when, outcome, source address and trace id', async () => {
    const created = await call(crew.url, 'POST', '/api/v1/orgs/acme/projects', { name: 'web' }, admin);
    expect(created.status).toBe(201);
    const [record] = await recorded('?action=project:create');
    const adminUser = (await call(crew.url, 'GET', '/api/v1/users/admin', undefined, admin)).body;
    expect(record).toMatchObject({
      service: 'crew',
      actor: { kind: 'user', userId: adminUser.id, username: 'admin' },
      action: 'project:create',
      transport: 'http',
      operation: 'POST /api/v1/orgs/:org/projects',
      outcome: 'success',
      status: 201,
      org: 'acme',
      target: { params: { org: 'acme' }, fields: { name: 'web' } },
      traceId: created.headers.get('x-trace-id'),
    });
    expect(record.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(record.sourceAddress).toMatch(/127\.0\.0\.1/);
    expect(Math.abs(Date.parse(record.at) - Date.now())).toBeLessThan(10 * 60_000);
    expect(record.errorCode).toBeUndefined();

    const [member] = await recorded('?action=organization:manage-members&org=globex');
    expect(member).toMatchObject({ org: 'globex', outcome: 'success', status: 201, operation: 'POST /api/v1/orgs/:org/members' });
    expect(member.target).toEqual({ params: { org: 'globex' }, fields: { username: 'carol', role: 'org-admin' } });
  });

  it('records a failed login with the username tried, never the password; reads are not recorded', async () => {
    expect((await login('alice', 'wrong-password-for-audit')).status).toBe(401);
    const failure = await eventually(async () => {
      const items = (await audit(`?user=alice&action=${encodeURIComponent('POST /api/v1/auth/login')}`)).body.items as { outcome: string }[];
      return items.find((item) => item.outcome === 'failure');
    }, 15_000, 'the failed login to be recorded');
    expect(failure).toMatchObject({
      actor: { kind: 'anonymous', username: 'alice' },
      outcome: 'failure',
      status: 401,
      errorCode: 'AUTH.INVALID_CREDENTIALS',
    });
    const all = await audit('?pageSize=200');
    const text = JSON.stringify(all.body);
    expect(text).not.toContain('wrong-password-for-audit');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(ADMIN_PASSWORD);
    expect(text).not.toContain(admin.authorization.slice('Bearer '.length));
    expect(all.body.items.some((item: { operation: string }) => item.operation.startsWith('GET '))).toBe(false);
  });

  it('records refused calls too, with the caller and the error code', async () => {
    expect((await call(crew.url, 'POST', '/api/v1/orgs', { name: 'initech' }, users.bob)).status).toBe(403);
    const [refused] = await recorded('?user=bob&action=organization:create');
    expect(refused).toMatchObject({ actor: { kind: 'user', username: 'bob' }, outcome: 'failure', status: 403, errorCode: 'AUTH.FORBIDDEN' });
    expect((await call(crew.url, 'POST', '/api/v1/orgs', { name: 'initech' })).status).toBe(401);
    const anonymous = await eventually(async () => {
      const items = (await audit('?action=organization:create')).body.items as { actor: { kind: string }; status: number; errorCode: string }[];
      return items.find((item) => item.actor.kind === 'anonymous');
    }, 15_000, 'the anonymous attempt to be recorded');
    expect(anonymous).toMatchObject({ status: 401, outcome: 'failure', errorCode: 'AUTH.UNAUTHENTICATED' });
  });

  it('filters by org, user, action and time, newest first, page by page', async () => {
    for (const name of ['p1', 'p2', 'p3']) expect((await call(crew.url, 'POST', '/api/v1/orgs/globex/projects', { name }, admin)).status).toBe(201);
    const records = await recorded('?org=globex&action=project:create', 3);
    expect(records.map((item: { action: string }) => item.action)).toEqual(['project:create', 'project:create', 'project:create']);
    const times = records.map((item: { at: string }) => Date.parse(item.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const first = await audit('?org=globex&action=project:create&pageSize=2');
    expect(first.body).toMatchObject({ page: 1, pageSize: 2, total: 3, nextPage: 2 });
    expect(first.body.items).toHaveLength(2);
    const second = await audit('?org=globex&action=project:create&pageSize=2&page=2');
    expect(second.body).toMatchObject({ page: 2, total: 3, nextPage: null });
    expect(second.body.items).toHaveLength(1);
    const ids = [...first.body.items, ...second.body.items].map((item: { id: string }) => item.id);
    expect(new Set(ids).size).toBe(3);

    const oldest = Math.min(...times);
    const since = await audit(`?org=globex&action=project:create&since=${new Date(oldest + 1).toISOString()}`);
    expect(since.body.total).toBe(times.filter((time: number) => time >= oldest + 1).length);
    const until = await audit(`?org=globex&action=project:create&until=${new Date(oldest + 1).toISOString()}`);
    expect(until.body.total).toBe(times.filter((time: number) => time < oldest + 1).length);
    expect(since.body.total + until.body.total).toBe(3);

    const byUser = await audit('?user=admin&org=globex&action=project:create');
    expect(byUser.body.total).toBe(3);
    expect((await audit('?user=nobody-at-all')).body.total).toBe(0);
  });

  it('validates the query: page size at most 200, ISO times, a range that makes sense', async () => {
    for (const query of ['?pageSize=201', '?pageSize=0', '?page=0', '?since=yesterday', '?until=2026-13-01', '?colour=red']) {
      const answer = await audit(query);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('REQUEST.INVALID');
    }
    const range = await audit('?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z');
    expect(range.status).toBe(400);
    expect(range.body.error.code).toBe('AUDIT.INVALID_RANGE');
  });

  it('shows an organization administrator only their organization; others get 403 or 401', async () => {
    await recorded('?org=acme&action=project:create');
    const alice = await audit('?pageSize=200', users.alice);
    expect(alice.status).toBe(200);
    expect(alice.body.items.length).toBeGreaterThan(0);
    expect(alice.body.items.every((item: { org?: string }) => item.org === 'acme')).toBe(true);
    const carol = await audit('?pageSize=200', users.carol);
    expect(carol.body.items.length).toBeGreaterThan(0);
    expect(carol.body.items.every((item: { org?: string }) => item.org === 'globex')).toBe(true);
    const foreign = await audit('?org=globex', users.alice);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('ORG.NOT_FOUND');

    const bob = await audit('', users.bob);
    expect(bob.status).toBe(403);
    expect(bob.body.error.code).toBe('AUTH.FORBIDDEN');
    expect((await audit('', {})).status).toBe(401);
  });

  it("stores another service's records, published on its own subject", async () => {
    const { config, cleanup } = await testServiceConfig('nucleus', 'distributed', { CO_SUBJECT_PREFIX: crew.prefix });
    let other: RunningService | undefined;
    try {
      other = await startService({ name: 'nucleus', title: 'test', description: 'test', module: ThingsModule }, config);
      expect((await call(other.httpUrl, 'POST', '/api/v1/things/t-1', {})).status).toBe(201);
      expect((await call(other.httpUrl, 'POST', '/api/v1/things/missing', {})).status).toBe(404);
      const records = await recorded(`?action=${encodeURIComponent('POST /api/v1/things/:id')}`, 2);
      expect(records.map((item: { service: string }) => item.service)).toEqual(['nucleus', 'nucleus']);
      const byId = Object.fromEntries(records.map((item: { target: { id: string } }) => [item.target.id, item]));
      expect(byId['t-1']).toMatchObject({ outcome: 'success', status: 201, actor: { kind: 'anonymous' }, transport: 'http' });
      expect(byId.missing).toMatchObject({ outcome: 'failure', status: 404, errorCode: 'THING.NOT_FOUND' });

      // A handler that records refusals only: its successes are left out.
      expect((await call(other.httpUrl, 'POST', '/api/v1/things/t-1/events', {})).status).toBe(201);
      expect((await call(other.httpUrl, 'POST', '/api/v1/things/missing/events', {})).status).toBe(404);
      const events = await recorded(`?action=${encodeURIComponent('POST /api/v1/things/:id/events')}`);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ outcome: 'failure', status: 404, target: { id: 'missing' } });
    } finally {
      await other?.close();
      await cleanup();
    }
  });
});
