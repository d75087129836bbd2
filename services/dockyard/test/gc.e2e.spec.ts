import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { client, registryClientEnvironment, type ClientEnvironment } from './fixtures/images';
import { imageManifest, registryClient, sha256 } from './fixtures/registry-client';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TWO_HOURS_AGO = () => new Date(Date.now() - 2 * 3_600_000);

describe('dockyard garbage collection', () => {
  let dockyard: TestDockyard;
  let bob: TestUser;
  let clients: ClientEnvironment;
  let work: string;
  const tokens = new Map<string, string>();
  const request = () => {
    const send = registryClient(dockyard.url);
    return (async (method: string, route: string, options?: Parameters<typeof send>[2]) => {
      try {
        return await send(method, route, options);
      } catch (error) {
        throw new Error(`${method} ${route}: ${(error as Error).message} ${String((error as { cause?: unknown }).cause)}`);
      }
    }) as typeof send;
  };
  const admin = () => ({ username: 'admin', password: dockyard.crew.admin.password });

  async function token(repository: string): Promise<string> {
    if (!tokens.has(repository)) tokens.set(repository, await dockyard.registryToken([`repository:${repository}:pull,push,delete`], admin()));
    return tokens.get(repository)!;
  }

  async function pushBlob(repository: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const answer = await request()('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      token: await token(repository),
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (answer.status !== 201) throw new Error(`blob push: ${answer.status} ${answer.bytes.toString()}`);
    return digest;
  }

  /** An image of a fresh config, a fresh layer and the given shared layers; its manifest's digest and blobs. */
  async function pushImage(repository: string, tag: string, shared: Buffer[] = []): Promise<{ digest: string; blobs: string[] }> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(8).toString('hex') }));
    const layers = [...shared, randomBytes(2048)];
    const blobs = [await pushBlob(repository, config)];
    for (const layer of layers) {
      // A client skips a blob the registry says it has, as skopeo and podman do.
      const head = await request()('HEAD', `/v2/${repository}/blobs/${sha256(layer)}`, { token: await token(repository) });
      blobs.push(head.status === 200 ? sha256(layer) : await pushBlob(repository, layer));
    }
    const manifest = imageManifest({ bytes: config }, layers);
    const put = await request()('PUT', `/v2/${repository}/manifests/${tag}`, { token: await token(repository), body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    if (put.status !== 201) throw new Error(`manifest push: ${put.status} ${put.bytes.toString()}`);
    return { digest: sha256(manifest), blobs };
  }

  function blobFile(digest: string): string {
    const hex = digest.split(':')[1];
    return path.join(dockyard.storageDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  /** Makes blobs look written two hours ago: past the grace window. */
  function age(digests: string[]): void {
    for (const digest of digests) if (existsSync(blobFile(digest))) utimesSync(blobFile(digest), TWO_HOURS_AGO(), TWO_HOURS_AGO());
  }

  function gc(dryRun?: boolean, as?: string | null) {
    return dockyard.call('POST', '/api/v1/gc', as, dryRun === undefined ? {} : { dryRun });
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'co-gc-'));
    dockyard = await startDockyard({ CO_DOCKYARD_GC_GRACE_MINUTES: '60', CO_DOCKYARD_UPLOAD_EXPIRY_HOURS: '1', CO_DOCKYARD_GC_INTERVAL_HOURS: '0' });
    clients = registryClientEnvironment(dockyard.host);
    bob = await dockyard.createUser('bob');
    await dockyard.createWorkspace('gcws');
  }, 120_000);

  afterAll(async () => {
    clients?.remove();
    await dockyard?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is for platform administrators only', async () => {
    expect((await gc(true, null)).status).toBe(401);
    const refused = await gc(true, bob.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('AUTH.FORBIDDEN');
    expect((await dockyard.call('GET', '/api/v1/gc', bob.token)).status).toBe(403);
    expect((await dockyard.call('POST', '/api/v1/gc', undefined, { dryRun: 'yes' })).status).toBe(400);
    expect((await dockyard.call('GET', '/api/v1/gc?limit=0')).body.error.code).toBe('GC.LIMIT_INVALID');
  });

  it('reports in a dry run what it would delete, then deletes unreferenced old blobs and keeps referenced and young ones', async () => {
    const kept = await pushImage('gcws/app', 'v1');
    const orphan = await pushBlob('gcws/app', randomBytes(4096));
    const young = await pushBlob('gcws/app', randomBytes(1024));
    const deleted = await pushImage('gcws/app', 'v2');
    const removal = await request()('DELETE', `/v2/gcws/app/manifests/${deleted.digest}`, { token: await token('gcws/app') });
    expect(removal.status).toBe(202);
    age([...kept.blobs, kept.digest, orphan, ...deleted.blobs, deleted.digest]);

    const dry = await gc(true);
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true });
    const wouldDelete = dry.body.blobs.map((blob: { digest: string }) => blob.digest);
    expect(wouldDelete).toEqual(expect.arrayContaining([orphan, deleted.digest, ...deleted.blobs]));
    for (const digest of [...kept.blobs, kept.digest, young]) expect(wouldDelete).not.toContain(digest);
    expect(dry.body.bytesFreed).toBeGreaterThanOrEqual(4096);
    for (const digest of [orphan, ...deleted.blobs]) expect(existsSync(blobFile(digest))).toBe(true);

    const real = await gc(false);
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ dryRun: false, blobsDeleted: dry.body.blobsDeleted, bytesFreed: dry.body.bytesFreed });
    expect(real.body.durationMs).toBeGreaterThanOrEqual(0);
    for (const digest of [orphan, deleted.digest, ...deleted.blobs]) expect(existsSync(blobFile(digest))).toBe(false);
    for (const digest of [...kept.blobs, kept.digest, young]) expect(existsSync(blobFile(digest))).toBe(true);
    // The swept blob is unknown to its repository too (its link is gone).
    expect((await request()('HEAD', `/v2/gcws/app/blobs/${orphan}`, { token: await token('gcws/app') })).status).toBe(404);

    const target = mkdtempSync(path.join(work, 'pulled-'));
    await client('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `admin:${admin().password}`, `docker://${dockyard.host}/gcws/app:v1`, `dir:${target}`], clients.env);
    expect(sha256(readFileSync(path.join(target, 'manifest.json')))).toBe(kept.digest);

    const reports = await dockyard.call('GET', '/api/v1/gc?limit=2');
    expect(reports.status).toBe(200);
    expect(reports.body.items.map((item: { id: string }) => item.id)).toEqual([real.body.id, dry.body.id]);
    expect(reports.body.items[0]).toMatchObject({ dryRun: false, trigger: 'manual', startedBy: 'admin', blobsDeleted: real.body.blobsDeleted });
  });

  it('keeps the blobs of binary artifacts, however old', async () => {
    const content = randomBytes(3000);
    const issued = await fetch(`${dockyard.crew.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gc-test' }),
    });
    expect(issued.status).toBe(201);
    const apiToken = ((await issued.json()) as { token: string }).token;
    const basic = `Basic ${Buffer.from(`admin:${apiToken}`).toString('base64')}`;
    const put = await fetch(`${dockyard.url}/binary/v1/gcws/tools/binary/v1/tool.bin`, {
      method: 'PUT',
      headers: { authorization: basic, 'content-type': 'application/octet-stream' },
      body: content,
    });
    expect(put.status).toBe(201);
    age([sha256(content)]);
    expect((await gc(false)).status).toBe(200);
    expect(existsSync(blobFile(sha256(content)))).toBe(true);
    const got = await fetch(`${dockyard.url}/binary/v1/gcws/tools/binary/v1/tool.bin`, { headers: { authorization: basic } });
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(content));
  });

  it('removes an upload abandoned for longer than the expiry, and leaves a live one', async () => {
    const auth = await token('gcws/uploads');
    const start = async () => {
      const started = await request()('POST', '/v2/gcws/uploads/blobs/uploads/', { token: auth });
      expect(started.status).toBe(202);
      const location = started.headers.get('location')!;
      const patched = await request()('PATCH', location, { token: auth, body: randomBytes(100), headers: { 'content-type': 'application/octet-stream' } });
      expect(patched.status).toBe(202);
      return { location, id: started.headers.get('docker-upload-uuid')! };
    };
    const abandoned = await start();
    const live = await start();
    const file = path.join(dockyard.storageDir, 'uploads', abandoned.id);
    expect(existsSync(file)).toBe(true);
    utimesSync(file, TWO_HOURS_AGO(), TWO_HOURS_AGO());

    const dry = await gc(true);
    expect(dry.body.uploadsDeleted).toBe(1);
    expect(existsSync(file)).toBe(true);
    const real = await gc(false);
    expect(real.body.uploadsDeleted).toBe(1);
    expect(existsSync(file)).toBe(false);
    expect((await request()('GET', abandoned.location, { token: auth })).status).toBe(404);
    expect((await request()('GET', live.location, { token: auth })).status).toBe(204);
  });

  it('loses nothing while pushes go on: every manifest keeps its blobs and pulls', async () => {
    const shared = [randomBytes(4096), randomBytes(4096)];
    const pushed: { repository: string; tag: string; digest: string; blobs: string[] }[] = [];
    const garbage: string[] = [];
    let pushing = true;
    let collections = 0;

    const collector = (async () => {
      while (pushing) {
        // Everything a finished push wrote is old now, as is some garbage: only the garbage may go.
        age(pushed.flatMap((image) => [image.digest, ...image.blobs]));
        garbage.push(await pushBlob('gcws/busy', randomBytes(512)));
        age(garbage);
        const answer = await gc(false);
        expect([200, 409]).toContain(answer.status);
        if (answer.status === 200) collections += 1;
      }
    })();
    const pusher = async (worker: number) => {
      for (let index = 0; index < 8; index += 1) {
        const repository = `gcws/busy${worker}`;
        const tag = `t${index}`;
        pushed.push({ repository, tag, ...(await pushImage(repository, tag, shared)) });
      }
    };
    try {
      await Promise.all([pusher(0), pusher(1), pusher(2)]);
    } finally {
      pushing = false;
      await collector;
    }
    expect(collections).toBeGreaterThan(1);
    expect(pushed).toHaveLength(24);

    const last = await gc(false);
    expect(last.status).toBe(200);
    for (const image of pushed) {
      for (const digest of [image.digest, ...image.blobs]) expect({ digest, stored: existsSync(blobFile(digest)) }).toEqual({ digest, stored: true });
      const manifest = await request()('GET', `/v2/${image.repository}/manifests/${image.tag}`, { token: await token(image.repository), headers: { accept: OCI_MANIFEST } });
      expect(manifest.status).toBe(200);
      for (const blob of image.blobs) {
        const head = await request()('HEAD', `/v2/${image.repository}/blobs/${blob}`, { token: await token(image.repository) });
        expect({ blob, status: head.status }).toEqual({ blob, status: 200 });
      }
    }
    expect(garbage.filter((digest) => existsSync(blobFile(digest)))).toEqual([]);
    const target = mkdtempSync(path.join(work, 'pulled-'));
    const sample = pushed[pushed.length - 1];
    await client('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `admin:${admin().password}`, `docker://${dockyard.host}/${sample.repository}:${sample.tag}`, `dir:${target}`], clients.env);
    expect(sha256(readFileSync(path.join(target, 'manifest.json')))).toBe(sample.digest);
  }, 180_000);

  it('keeps a blob that a manifest push references just before the collector removes it', async () => {
    // An image whose version is deleted leaves its layer linked but unreferenced, and old.
    const repository = 'gcws/raced';
    const layer = randomBytes(4096);
    const first = await pushImage(repository, 'v1', [layer]);
    expect((await request()('DELETE', `/v2/${repository}/manifests/${first.digest}`, { token: await token(repository) })).status).toBe(202);
    age(first.blobs);

    // A client pushes a new version that reuses the layer (the registry says it has it),
    // and its manifest arrives exactly when the collector starts to remove the layer.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: 'raced' }));
    await pushBlob(repository, config);
    const manifest = imageManifest({ bytes: config }, [layer]);
    let put: { status: number } | undefined;
    const pushManifest = async () => {
      put = await request()('PUT', `/v2/${repository}/manifests/v2`, { token: await token(repository), body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    };
    const db = dockyard.service.runtime.db;
    const removesLayer = (sql: string, parameters?: unknown[]) => sql.startsWith('DELETE FROM dockyard_repository_blobs') && parameters?.[0] === sha256(layer);
    const hooked = <T extends { query: (sql: string, parameters?: unknown[]) => Promise<unknown> }>(target: T): T['query'] => {
      const query = target.query.bind(target);
      return async (sql: string, parameters?: unknown[]) => {
        if (!put && removesLayer(sql, parameters)) await pushManifest();
        return query(sql, parameters);
      };
    };
    const originalQuery = db.query;
    const originalTransaction = db.transaction;
    db.query = hooked(db) as typeof db.query;
    db.transaction = ((work: (manager: any) => Promise<unknown>) =>
      originalTransaction.call(db, (manager: any) => {
        manager.query = hooked(manager);
        return work(manager);
      })) as typeof db.transaction;
    try {
      expect((await gc(false)).status).toBe(200);
    } finally {
      db.query = originalQuery;
      db.transaction = originalTransaction;
    }
    expect(put?.status).toBe(201);
    expect(existsSync(blobFile(sha256(layer)))).toBe(true);
    const pulled = await request()('GET', `/v2/${repository}/blobs/${sha256(layer)}`, { token: await token(repository) });
    expect(pulled.status).toBe(200);
  });
});
