import { createHash } from 'node:crypto';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

describe('dockyard workspaces', () => {
  let dockyard: TestDockyard;
  let alice: TestUser; // project-admin of acme/web
  let mallory: TestUser; // org-admin of globex

  beforeAll(async () => {
    dockyard = await startDockyard();
    alice = await dockyard.createUser('alice');
    mallory = await dockyard.createUser('mallory');
    await dockyard.addMember('acme/web', 'alice', 'project-admin');
    await dockyard.ensureProject('globex/ops');
    await dockyard.addMember('globex', 'mallory', 'org-admin');
  }, 120_000);
  afterAll(() => dockyard?.close());

  it('creates a workspace in a project of the caller, and crew learns it for registry tokens', async () => {
    const created = await dockyard.createWorkspace('acmeweb', { org: 'acme', project: 'web', token: alice.token });
    expect(created).toMatchObject({ name: 'acmeweb', org: 'acme', project: 'web', visibility: 'private', createdBy: 'alice' });
    const token = await dockyard.registryToken(['repository:acmeweb/api:pull,push'], { username: 'alice', password: alice.password });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims.access).toEqual([{ type: 'repository', name: 'acmeweb/api', actions: ['pull', 'push'] }]);
  });

  it('refuses a second workspace of the same name, bad names and another organization’s project', async () => {
    const again = await dockyard.call('POST', '/api/v1/workspaces', alice.token, { name: 'acmeweb', org: 'acme', project: 'web' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('WORKSPACE.EXISTS');
    for (const name of ['../etc', 'Upper', 'a/b', '-lead', '', 'v1']) {
      const bad = await dockyard.call('POST', '/api/v1/workspaces', alice.token, { name, org: 'acme', project: 'web' });
      expect(bad.status).toBe(400);
    }
    const foreign = await dockyard.call('POST', '/api/v1/workspaces', alice.token, { name: 'sneaky', org: 'globex', project: 'ops' });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('PROJECT.NOT_FOUND');
  });

  it('hides another organization’s private workspace and shows public ones to everybody', async () => {
    expect((await dockyard.call('GET', '/api/v1/workspaces/acmeweb', mallory.token)).status).toBe(404);
    expect((await dockyard.call('GET', '/api/v1/workspaces', mallory.token)).body.items.map((w: any) => w.name)).not.toContain('acmeweb');
    expect((await dockyard.call('PATCH', '/api/v1/workspaces/acmeweb', mallory.token, { visibility: 'public' })).status).toBe(404);

    const made = await dockyard.call('PATCH', '/api/v1/workspaces/acmeweb', alice.token, { visibility: 'public' });
    expect(made.status).toBe(200);
    expect(made.body.visibility).toBe('public');
    expect((await dockyard.call('GET', '/api/v1/workspaces/acmeweb', mallory.token)).status).toBe(200);
    expect((await dockyard.call('GET', '/api/v1/workspaces', mallory.token)).body.items.map((w: any) => w.name)).toContain('acmeweb');
    expect((await dockyard.call('DELETE', '/api/v1/workspaces/acmeweb', mallory.token)).status).toBe(403);
  });

  it('answers 401 without a token and deletes a workspace, whose name may then be taken again', async () => {
    expect((await dockyard.call('GET', '/api/v1/workspaces', null)).status).toBe(401);
    expect((await dockyard.call('DELETE', '/api/v1/workspaces/acmeweb', alice.token)).status).toBe(204);
    expect((await dockyard.call('GET', '/api/v1/workspaces/acmeweb', alice.token)).status).toBe(404);
    const again = await dockyard.call('POST', '/api/v1/workspaces', alice.token, { name: 'acmeweb', org: 'acme', project: 'web', visibility: 'public' });
    expect(again.status).toBe(201);
  });

  it('refuses to delete a workspace that still holds something, and names what', async () => {
    await dockyard.createWorkspace('holding', { org: 'acme', project: 'web', token: alice.token });
    const put = await dockyard.call('PUT', '/binary/v1/holding/tools/binary/1.0/tool.sh', alice.token, Buffer.from('#!/bin/sh\necho hi\n'));
    expect(put.status).toBe(201);
    const refused = await dockyard.call('DELETE', '/api/v1/workspaces/holding', alice.token);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'WORKSPACE.NOT_EMPTY' });
    expect(refused.body.error.message).toContain('1 binary artifact');
    expect((await dockyard.call('DELETE', '/binary/v1/holding/tools/binary/1.0/tool.sh', alice.token)).status).toBe(204);
    expect((await dockyard.call('DELETE', '/api/v1/workspaces/holding', alice.token)).status).toBe(204);
  });

  it('forgets a deleted workspace’s leftovers, so a new owner of the name sees none of them', async () => {
    await dockyard.createWorkspace('reused', { org: 'acme', project: 'web', token: alice.token });
    const bytes = Buffer.from('a layer nobody tagged');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const push = await dockyard.registryToken(['repository:reused/secret:pull,push'], { username: 'alice', password: alice.password });
    const stored = await dockyard.call('POST', `/v2/reused/secret/blobs/uploads/?digest=${digest}`, push, bytes, { 'content-type': 'application/octet-stream' });
    expect(stored.status).toBe(201);
    expect((await dockyard.call('DELETE', '/api/v1/workspaces/reused', alice.token)).status).toBe(204);

    await dockyard.createWorkspace('reused', { org: 'globex', project: 'ops', token: mallory.token });
    const pull = await dockyard.registryToken(['repository:reused/secret:pull'], { username: 'mallory', password: mallory.password });
    expect((await dockyard.call('GET', `/v2/reused/secret/blobs/${digest}`, pull)).status).toBe(404);
    const listed = await dockyard.call('GET', '/api/v1/workspaces/reused/repositories', mallory.token);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
  });
});
