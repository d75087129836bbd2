import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../../test/support/infra';
import { startCrew, type TestCrew } from './support/crew';
import { accessToken, addMember, ADMIN_PASSWORD, bearer, createProject, createUser, ok, publishWorkspaceEvent, USER_PASSWORD } from './support-tokens/tokens';
import { startTokenRegistry } from './support-tokens/token-registry';

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs a registry client; `input` goes to its standard input (a password, never an argument). */
function client(command: string, args: string[], input?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Real registry clients (podman login, skopeo) against a registry that sends them to
 * crew's token endpoint and trusts crew's tokens the way a Distribution registry does.
 */
describe('crew: registry tokens with podman and skopeo', () => {
  let crew: TestCrew;
  let registry: Awaited<ReturnType<typeof startTokenRegistry>>;
  let dir: string;
  let token: string;

  const listTags = (repository: string, ...credentials: string[]) =>
    client('skopeo', ['list-tags', '--tls-verify=false', ...credentials, `docker://${registry.host}/${repository}`]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'co-registry-clients-'));
    crew = await startCrew({ CO_ADMIN_PASSWORD: ADMIN_PASSWORD });
    registry = await startTokenRegistry(crew.url, 'registry.test');
    const admin = bearer(await accessToken(crew, 'admin'));
    await createUser(crew, admin, 'alice');
    await createUser(crew, admin, 'olga');
    await createProject(crew, admin, 'acme', 'web');
    await addMember(crew, admin, 'acme', 'web', 'alice', 'member');
    await publishWorkspaceEvent(crew, 'workspace-c1', 1, 'WorkspaceCreated', { workspace: 'acmeweb', org: 'acme', project: 'web', visibility: 'private' });
    await publishWorkspaceEvent(crew, 'workspace-c2', 1, 'WorkspaceCreated', { workspace: 'acmepub', org: 'acme', project: 'web', visibility: 'public' });
    await eventually(
      async () => (await crew.service.runtime.db.query<unknown[]>('SELECT name FROM crew_registry_workspaces')).length === 2,
      15_000,
      'both workspaces',
    );
    token = (await ok(crew, 'POST', '/api/v1/tokens', { name: 'podman' }, bearer(await accessToken(crew, 'alice')), 201)).token;
  });
  afterAll(async () => {
    await registry?.close();
    await crew?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('podman login succeeds with an API token as password and fails with a wrong password', async () => {
    const authfile = join(dir, 'auth.json');
    const login = await client('podman', ['login', '--tls-verify=false', '--authfile', authfile, '--username', 'alice', '--password-stdin', registry.host], token);
    expect(login).toMatchObject({ code: 0, output: expect.stringContaining('Login Succeeded') });
    const wrong = await client(
      'podman',
      ['login', '--tls-verify=false', '--authfile', join(dir, 'wrong.json'), '--username', 'alice', '--password-stdin', registry.host],
      'not-her-password',
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toMatch(/invalid username\/password/);

    const tags = await listTags('acmeweb/api', '--authfile', authfile);
    expect(tags.code).toBe(0);
    expect(JSON.parse(tags.output)).toMatchObject({ Tags: ['1.0'] });
  });

  it('skopeo pulls with a password or an API token; others and anonymous callers only from a public workspace', async () => {
    for (const secret of [USER_PASSWORD, token]) {
      const tags = await listTags('acmeweb/api', '--creds', `alice:${secret}`);
      expect(tags.code).toBe(0);
    }
    const outsider = await listTags('acmeweb/api', '--creds', `olga:${USER_PASSWORD}`);
    expect(outsider.code).not.toBe(0);
    expect(outsider.output).toMatch(/unauthorized/i);
    expect((await listTags('acmeweb/api', '--no-creds')).code).not.toBe(0);
    expect((await listTags('acmepub/site', '--no-creds')).code).toBe(0);
    expect((await listTags('acmepub/site', '--creds', `olga:${USER_PASSWORD}`)).code).toBe(0);
  });
});
