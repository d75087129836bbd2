import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { BUSYBOX, client, registryClientEnvironment, type ClientEnvironment } from './fixtures/images';
import { registryClient, sha256 } from './fixtures/registry-client';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

/** The import limit of this test's dockyard: a busybox archive (about 2 MB) fits, 4 MB does not. */
const MAX_IMPORT_BYTES = 3 * 1024 * 1024;

const podmanEnv = { ...process.env, CONTAINERS_CONF: '/etc/co-containers.conf', CONTAINERS_REGISTRIES_CONF: '/etc/co-registries.conf' };

interface SavedImage {
  name: string;
  dockerArchive: Buffer;
  ociArchive: Buffer;
  /** sha256 of the uncompressed layer (the config's diff_id). */
  diffId: string;
  /** The OCI archive's manifest digest and layer digests (podman compresses them). */
  ociManifestDigest: string;
  ociLayerDigests: string[];
}

describe('dockyard image import', () => {
  let dockyard: TestDockyard;
  let work: string;
  let clients: ClientEnvironment;
  let bob: TestUser; // no rights in the workspace's project
  let first: SavedImage;
  let second: SavedImage;
  const request = () => registryClient(dockyard.url);
  const admin = () => ({ username: 'admin', password: dockyard.crew.admin.password });

  /** A busybox image made with `podman import` and written out with `podman save`, both formats. */
  async function podmanImage(marker: string): Promise<SavedImage> {
    const dir = mkdtempSync(path.join(work, 'image-'));
    const rootfs = path.join(dir, 'rootfs');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    writeFileSync(path.join(rootfs, 'bin', 'busybox'), readFileSync(BUSYBOX), { mode: 0o755 });
    symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'));
    writeFileSync(path.join(rootfs, 'marker'), marker);
    await client('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.'], podmanEnv);
    const name = `localhost/dockyard-import/busybox:${marker}`;
    await client('podman', ['import', path.join(dir, 'rootfs.tar'), name], podmanEnv);
    try {
      await client('podman', ['save', '-o', path.join(dir, 'docker.tar'), name], podmanEnv);
      await client('podman', ['save', '--format', 'oci-archive', '-o', path.join(dir, 'oci.tar'), name], podmanEnv);
    } finally {
      await client('podman', ['rmi', '-f', name], podmanEnv).catch(() => undefined);
    }
    const dockerArchive = readFileSync(path.join(dir, 'docker.tar'));
    const ociArchive = readFileSync(path.join(dir, 'oci.tar'));
    const dockerFiles = await untar(dockerArchive);
    const [entry] = JSON.parse(dockerFiles.get('manifest.json')!.toString());
    const config = JSON.parse(dockerFiles.get(entry.Config)!.toString());
    const ociFiles = await untar(ociArchive);
    const index = JSON.parse(ociFiles.get('index.json')!.toString());
    const ociManifestDigest = index.manifests[0].digest as string;
    const ociManifest = JSON.parse(ociFiles.get(`blobs/sha256/${ociManifestDigest.slice(7)}`)!.toString());
    return {
      name,
      dockerArchive,
      ociArchive,
      diffId: config.rootfs.diff_ids[0],
      ociManifestDigest,
      ociLayerDigests: ociManifest.layers.map((layer: { digest: string }) => layer.digest),
    };
  }

  /** skopeo copies an image out of dockyard to a `dir:`; its manifest and the files' digests. */
  async function pullBack(reference: string): Promise<{ manifest: any; files: Map<string, string> }> {
    const target = mkdtempSync(path.join(work, 'pulled-'));
    await client('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `${admin().username}:${admin().password}`, `docker://${dockyard.host}/${reference}`, `dir:${target}`], clients.env);
    const manifest = JSON.parse(readFileSync(path.join(target, 'manifest.json'), 'utf8'));
    const files = new Map<string, string>();
    for (const layer of manifest.layers as { digest: string }[]) files.set(layer.digest, sha256(readFileSync(path.join(target, layer.digest.slice(7)))));
    return { manifest, files };
  }

  function importArchive(body: Buffer, query = '', token?: string | null, headers: Record<string, string> = {}) {
    return dockyard.call('POST', `/api/v1/workspaces/imports/images/import${query}`, token, body, { 'content-type': 'application/x-tar', ...headers });
  }

  function pullToken(repository: string): Promise<string> {
    return dockyard.registryToken([`repository:${repository}:pull`], admin());
  }

  async function tags(repository: string): Promise<string[]> {
    const answer = await request()('GET', `/v2/${repository}/tags/list`, { token: await pullToken(repository) });
    // A repository that was never written answers NAME_UNKNOWN; any other failure fails the test.
    if (answer.status === 404 && answer.json?.errors?.[0]?.code === 'NAME_UNKNOWN') return [];
    expect(answer.status).toBe(200);
    return answer.json.tags ?? [];
  }

  async function manifestDigest(repository: string, tag: string): Promise<string | undefined> {
    const answer = await request()('HEAD', `/v2/${repository}/manifests/${tag}`, {
      token: await pullToken(repository),
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    return answer.status === 200 ? (answer.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'co-import-'));
    dockyard = await startDockyard({ CO_DOCKYARD_MAX_IMPORT_BYTES: String(MAX_IMPORT_BYTES) });
    clients = registryClientEnvironment(dockyard.host);
    bob = await dockyard.createUser('bob');
    await dockyard.createWorkspace('imports');
    const marker = randomBytes(6).toString('hex');
    first = await podmanImage(`a${marker}`);
    second = await podmanImage(`b${marker}`);
  }, 180_000);

  afterAll(async () => {
    clients?.remove();
    await dockyard?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('imports a podman save (docker-archive) under its own name, and skopeo pulls back the same layer', async () => {
    const answer = await importArchive(first.dockerArchive);
    expect(answer.status).toBe(201);
    const tag = first.name.split(':')[1];
    expect(answer.body).toMatchObject({ format: 'docker-archive', images: [{ repository: 'imports/dockyard-import/busybox', tag, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }] });
    expect(answer.body.images[0].size).toBeGreaterThan(first.dockerArchive.length / 2);

    const pulled = await pullBack(`imports/dockyard-import/busybox:${tag}`);
    expect(pulled.manifest.layers.map((layer: { digest: string }) => layer.digest)).toEqual([first.diffId]);
    expect(pulled.files.get(first.diffId)).toBe(first.diffId);
    expect(await manifestDigest('imports/dockyard-import/busybox', tag)).toBe(answer.body.images[0].digest);
  });

  it('imports a podman save --format oci-archive byte for byte, renamed with ?repository and ?tag', async () => {
    const answer = await importArchive(first.ociArchive, '?repository=tools/busybox&tag=oci');
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ format: 'oci-layout', images: [{ repository: 'imports/tools/busybox', tag: 'oci', digest: first.ociManifestDigest }] });
    const pulled = await pullBack('imports/tools/busybox:oci');
    expect(pulled.manifest.layers.map((layer: { digest: string }) => layer.digest)).toEqual(first.ociLayerDigests);
    for (const digest of first.ociLayerDigests) expect(pulled.files.get(digest)).toBe(digest);
  });

  it('imports a .tar.gz, and an import to an existing tag moves the tag to the imported image', async () => {
    const gz = await importArchive(gzipSync(first.dockerArchive), '?repository=tools/moving&tag=current', undefined, { 'content-type': 'application/gzip' });
    expect(gz.status).toBe(201);
    expect(await manifestDigest('imports/tools/moving', 'current')).toBe(gz.body.images[0].digest);

    const again = await importArchive(second.dockerArchive, '?repository=tools/moving&tag=current');
    expect(again.status).toBe(201);
    expect(again.body.images[0].digest).not.toBe(gz.body.images[0].digest);
    expect(await manifestDigest('imports/tools/moving', 'current')).toBe(again.body.images[0].digest);
    // The earlier image stays, by digest.
    expect(await manifestDigest('imports/tools/moving', gz.body.images[0].digest)).toBe(gz.body.images[0].digest);
  });

  it('refuses hostile and broken archives with a 4xx and tags nothing', async () => {
    const layer = Buffer.from('a layer');
    const config = Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = (layers: string[]) => JSON.stringify([{ Config: 'config.json', RepoTags: ['hostile/app:bad'], Layers: layers }]);
    const cases: { body: Buffer; status: number; code: string }[] = [
      { body: await archive([{ name: '../../evil.tar', content: layer }, { name: 'config.json', content: config }, { name: 'manifest.json', content: manifest(['../../evil.tar']) }]), status: 400, code: 'IMPORT.ARCHIVE_UNSAFE' },
      { body: await archive([{ name: '/etc/cron.d/evil', content: layer }, { name: 'manifest.json', content: manifest([]) }]), status: 400, code: 'IMPORT.ARCHIVE_UNSAFE' },
      { body: await archive([{ name: 'layer.tar', type: 'symlink', linkname: '/etc/shadow' }, { name: 'config.json', content: config }, { name: 'manifest.json', content: manifest(['layer.tar']) }]), status: 400, code: 'IMPORT.ARCHIVE_UNSAFE' },
      { body: await archive([{ name: 'config.json', content: config }, { name: 'manifest.json', content: manifest(['missing.tar']) }]), status: 400, code: 'IMPORT.BLOB_MISSING' },
      { body: await archive([{ name: 'manifest.json', content: ' '.repeat(1024 * 1024 + 1) }]), status: 400, code: 'IMPORT.MANIFEST_TOO_LARGE' },
      { body: gzipSync(await archive(Array.from({ length: 10_001 }, (_, index) => ({ name: `d${index}/`, type: 'directory' as const })))), status: 400, code: 'IMPORT.TOO_MANY_ENTRIES' },
      { body: await archive([{ name: 'big.tar', content: randomBytes(4 * 1024 * 1024) }, { name: 'manifest.json', content: manifest(['big.tar']) }]), status: 413, code: 'IMPORT.TOO_LARGE' },
      { body: gzipSync(await archive([{ name: 'zeros.tar', content: Buffer.alloc(4 * MAX_IMPORT_BYTES + 1) }])), status: 413, code: 'IMPORT.TOO_LARGE' },
      { body: Buffer.from('this is not an archive '.repeat(64)), status: 400, code: 'IMPORT.ARCHIVE_INVALID' },
      { body: await archive([{ name: 'readme', content: 'no manifest' }]), status: 400, code: 'IMPORT.ARCHIVE_INVALID' },
    ];
    for (const [index, { body, status, code }] of cases.entries()) {
      const answer = await importArchive(body);
      expect({ index, status: answer.status, code: answer.body?.error?.code }).toEqual({ index, status, code });
    }
    // The oversize body is refused while it streams too, without a Content-Length to go by.
    const streamed = await fetch(`${dockyard.url}/api/v1/workspaces/imports/images/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/x-tar' },
      body: Readable.toWeb(Readable.from([cases[6].body])) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await tags('imports/hostile/app')).toEqual([]);
    expect(await tags('imports/app')).toEqual([]);
  });

  it('refuses bad names before reading, and callers without push rights', async () => {
    const bad = await importArchive(first.dockerArchive, '?repository=../etc');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('IMPORT.NAME_INVALID');
    const badTag = await importArchive(first.dockerArchive, '?repository=ok&tag=-x');
    expect(badTag.body.error.code).toBe('IMPORT.NAME_INVALID');
    expect((await importArchive(first.dockerArchive, '', null)).status).toBe(401);
    const foreign = await importArchive(first.dockerArchive, '', bob.token);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('WORKSPACE.NOT_FOUND');
    const json = await dockyard.call('POST', '/api/v1/workspaces/imports/images/import', undefined, { not: 'an archive' });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('IMPORT.UNSUPPORTED_MEDIA_TYPE');
  });
});

type Entry = { name: string; content?: string | Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string };

/** A tar written entry by entry, names as given (tar-stream does not clean them). */
async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = buffer(Readable.from(pack as unknown as AsyncIterable<Buffer>));
  for (const entry of entries) {
    const content = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: entry.name, type: entry.type ?? 'file', linkname: entry.linkname, size: content.length }, content, (error) => (error ? reject(error) : resolve())),
    );
  }
  pack.finalize();
  return done;
}

/** The regular files of a tar, by name. */
async function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  const extract = tar.extract();
  const files = new Map<string, Buffer>();
  const reading = (async () => {
    for await (const entry of extract) {
      const content = await buffer(entry as unknown as AsyncIterable<Buffer>);
      if (entry.header.type === 'file') files.set(entry.header.name.replace(/^\.\//, ''), content);
    }
  })();
  extract.end(bytes);
  await reading;
  return files;
}
