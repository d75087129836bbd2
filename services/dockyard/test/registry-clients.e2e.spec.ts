import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { busyboxLayout, client, registryClientEnvironment, type ClientEnvironment, type OciLayout } from './fixtures/images';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

// The registry's parts, when the service's list does not hold them yet.
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('dockyard with real registry clients', () => {
  let dockyard: TestDockyard;
  let alice: TestUser;
  let clients: ClientEnvironment;
  let layout: OciLayout;
  let creds: string;
  const scratch = mkdtempSync(path.join(tmpdir(), 'co-pulled-'));
  const podmanImages: string[] = [];

  beforeAll(async () => {
    dockyard = await startDockyard();
    alice = await dockyard.createUser('alice');
    await dockyard.addMember('acme', 'alice', 'org-admin');
    await dockyard.ensureProject('acme/web');
    await dockyard.createWorkspace('clients', { org: 'acme', project: 'web' });
    await dockyard.createWorkspace('clientspub', { org: 'acme', project: 'web', visibility: 'public' });
    clients = registryClientEnvironment(dockyard.host);
    layout = await busyboxLayout({ tag: 'latest', extraFile: { name: 'hello.txt', content: `hello ${Date.now()}\n` } });
    creds = `alice:${alice.password}`;
  }, 120_000);
  afterAll(async () => {
    for (const image of podmanImages) await client('podman', ['rmi', '--force', image], clients.env).catch(() => undefined);
    layout?.remove();
    clients?.remove();
    rmSync(scratch, { recursive: true, force: true });
    await dockyard?.close();
  });

  it('skopeo copies an OCI layout in and back out to dir: with identical digests', async () => {
    const target = `docker://${dockyard.host}/clients/busybox:1.0`;
    await client('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, layout.reference, target], clients.env);
    const raw = await client('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', creds, target], clients.env);
    expect(sha256(Buffer.from(raw.replace(/\n$/, '')))).toBe(layout.manifestDigest);

    const out = path.join(scratch, 'skopeo-dir');
    await client('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', creds, target, `dir:${out}`], clients.env);
    expect(sha256(readFileSync(path.join(out, 'manifest.json')))).toBe(layout.manifestDigest);
    for (const digest of layout.layerDigests) {
      const file = path.join(out, digest.slice('sha256:'.length));
      expect(existsSync(file)).toBe(true);
      expect(sha256(readFileSync(file))).toBe(digest);
    }
    const tags = await dockyard.call('GET', '/api/v1/workspaces/clients/repositories/busybox/tags', alice.token);
    expect(tags.body.items).toEqual([expect.objectContaining({ tag: '1.0', digest: layout.manifestDigest })]);
  });

  it('podman pushes and pulls, buildah pushes', async () => {
    const source = `${dockyard.host}/clients/busybox:1.0`;
    await client('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, layout.reference, `docker://${source}`], clients.env);
    await client('podman', ['pull', '--tls-verify=false', '--creds', creds, source], clients.env);
    podmanImages.push(source);
    const pushed = `${dockyard.host}/clients/from-podman:1`;
    await client('podman', ['tag', source, pushed], clients.env);
    podmanImages.push(pushed);
    await client('podman', ['push', '--tls-verify=false', '--creds', creds, pushed], clients.env);
    await client('podman', ['rmi', pushed], clients.env);
    await client('podman', ['pull', '--tls-verify=false', '--creds', creds, pushed], clients.env);
    const output = await client('podman', [...clients.podmanFlags, 'run', '--rm', pushed, '/bin/cat', '/hello.txt'], clients.env);
    expect(output).toMatch(/^hello \d+/);

    const byBuildah = `docker://${dockyard.host}/clients/team/from-buildah:2`;
    await client('buildah', ['push', '--tls-verify=false', '--creds', creds, source, byBuildah], clients.env);
    const raw = await client('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, byBuildah], clients.env);
    expect(JSON.parse(raw).Layers.length).toBe(1);
    const repositories = await dockyard.call('GET', '/api/v1/workspaces/clients/repositories', alice.token);
    expect(repositories.body.items.map((item: { name: string }) => item.name)).toEqual(
      expect.arrayContaining(['clients/busybox', 'clients/from-podman', 'clients/team/from-buildah']),
    );
  });

  it('pulls anonymously from a public workspace and gets 401 from a private one', async () => {
    await client('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, layout.reference, `docker://${dockyard.host}/clientspub/busybox:1`], clients.env);
    const raw = await client('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${dockyard.host}/clientspub/busybox:1`], clients.env);
    expect(sha256(Buffer.from(raw.replace(/\n$/, '')))).toBe(layout.manifestDigest);
    await expect(client('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${dockyard.host}/clients/busybox:1.0`], clients.env)).rejects.toThrow(
      /unauthorized|authentication required/i,
    );
  });
});
