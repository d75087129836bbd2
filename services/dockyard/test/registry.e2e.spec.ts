import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { eventually, NATS_URL } from '../../../test/support/infra';
import { imageManifest, registryClient, sha256, type RegistryAnswer } from './fixtures/registry-client';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

// The registry's parts, when the service's list does not hold them yet.
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('dockyard OCI distribution API', () => {
  let dockyard: TestDockyard;
  let alice: TestUser; // org-admin of acme
  let request: ReturnType<typeof registryClient>;
  let nats: NatsConnection | undefined;
  const tokens = new Map<string, string>();

  /** A registry token for `repository` with pull, push and delete, as alice. */
  async function token(repository: string): Promise<string> {
    if (!tokens.has(repository)) {
      tokens.set(repository, await dockyard.registryToken([`repository:${repository}:pull,push,delete`], { username: 'alice', password: alice.password }));
    }
    return tokens.get(repository)!;
  }

  /** Pushes a blob monolithically (POST then PUT) and returns its digest. */
  async function pushBlob(repository: string, bytes: Buffer): Promise<string> {
    const auth = await token(repository);
    const started = await request('POST', `/v2/${repository}/blobs/uploads/`, { token: auth });
    expect(started.status).toBe(202);
    const digest = sha256(bytes);
    const location = started.headers.get('location')!;
    const put = await request('PUT', `${location}?digest=${digest}`, { token: auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    return digest;
  }

  async function pushImage(repository: string, reference: string, extra: Parameters<typeof imageManifest>[2] = {}, layer = randomBytes(64)) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') }));
    await pushBlob(repository, config);
    await pushBlob(repository, layer);
    const manifest = imageManifest({ bytes: config, mediaType: extra.artifactType ? 'application/vnd.oci.empty.v1+json' : undefined }, [layer], extra);
    const put = await request('PUT', `/v2/${repository}/manifests/${reference}`, { token: await token(repository), body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    expect(put.status).toBe(201);
    return { manifest, digest: sha256(manifest), put };
  }

  function storedBlob(digest: string): boolean {
    const hex = digest.split(':')[1];
    return existsSync(path.join(dockyard.storageDir, 'blobs', 'sha256', hex.slice(0, 2), hex));
  }

  function expectError(answer: RegistryAnswer, status: number, code: string): void {
    expect({ status: answer.status, code: answer.json?.errors?.[0]?.code }).toEqual({ status, code });
    expect(typeof answer.json.errors[0].message).toBe('string');
  }

  /** A request written on a socket as is (no URL normalization, bodies cut short on purpose). */
  function raw(lines: string, body?: Buffer, close = false): Promise<string> {
    const [host, port] = dockyard.host.split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => {
        socket.write(lines);
        if (body) socket.write(body);
        if (close) setTimeout(() => socket.destroy(), 200);
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      if (!close) setTimeout(() => socket.end(), 1000);
    });
  }

  beforeAll(async () => {
    dockyard = await startDockyard();
    request = registryClient(dockyard.url);
    alice = await dockyard.createUser('alice');
    await dockyard.addMember('acme', 'alice', 'org-admin');
    await dockyard.ensureProject('acme/web');
    await dockyard.createWorkspace('acmeimg', { org: 'acme', project: 'web' });
    await dockyard.createWorkspace('acmepub', { org: 'acme', project: 'web', visibility: 'public' });
  }, 120_000);
  afterAll(async () => {
    await nats?.close();
    await dockyard?.close();
  });

  it('answers the base check: 401 with a challenge for nobody, {} for a token, the API version always', async () => {
    const anonymous = await request('GET', '/v2/');
    expectError(anonymous, 401, 'UNAUTHORIZED');
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="http:\/\/.+\/api\/v1\/registry\/token",service="dockyard.test"$/);
    expect(anonymous.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const ok = await request('GET', '/v2/', { token: await token('acmeimg/app') });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({});
    expect(ok.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const basic = await request('GET', '/v2/', { basic: { username: 'alice', password: 'wrong' } });
    expectError(basic, 401, 'UNAUTHORIZED');
  });

  it('pushes monolithically and by one POST, serves blobs with ranges and manifests as pushed', async () => {
    const repo = 'acmeimg/app';
    const auth = await token(repo);
    const layer = randomBytes(1000);
    const single = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(layer)}`, { token: auth, body: layer, headers: { 'content-type': 'application/octet-stream' } });
    expect(single.status).toBe(201);
    expect(single.headers.get('location')).toBe(`/v2/${repo}/blobs/${sha256(layer)}`);
    expect(single.headers.get('docker-content-digest')).toBe(sha256(layer));

    const head = await request('HEAD', `/v2/${repo}/blobs/${sha256(layer)}`, { token: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    const whole = await request('GET', `/v2/${repo}/blobs/${sha256(layer)}`, { token: auth });
    expect(whole.bytes.equals(layer)).toBe(true);
    const part = await request('GET', `/v2/${repo}/blobs/${sha256(layer)}`, { token: auth, headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(part.bytes.equals(layer.subarray(10, 20))).toBe(true);
    const tail = await request('GET', `/v2/${repo}/blobs/${sha256(layer)}`, { token: auth, headers: { range: 'bytes=-5' } });
    expect(tail.bytes.equals(layer.subarray(995))).toBe(true);
    const outside = await request('GET', `/v2/${repo}/blobs/${sha256(layer)}`, { token: auth, headers: { range: 'bytes=1000-' } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe('bytes */1000');

    const { manifest, digest, put } = await pushImage(repo, 'v1', {}, layer);
    expect(put.headers.get('docker-content-digest')).toBe(digest);
    expect(put.headers.get('location')).toBe(`/v2/${repo}/manifests/${digest}`);
    for (const reference of ['v1', digest]) {
      const got = await request('GET', `/v2/${repo}/manifests/${reference}`, { token: auth });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(got.headers.get('docker-content-digest')).toBe(digest);
      expect(got.bytes.equals(manifest)).toBe(true);
    }
    const headManifest = await request('HEAD', `/v2/${repo}/manifests/v1`, { token: auth });
    expect(headManifest.headers.get('content-length')).toBe(String(manifest.length));
    // The manifest's own bytes are a blob of the repository too.
    expect((await request('GET', `/v2/${repo}/blobs/${digest}`, { token: auth })).bytes.equals(manifest)).toBe(true);
    expectError(await request('GET', `/v2/${repo}/manifests/v9`, { token: auth }), 404, 'MANIFEST_UNKNOWN');
    expectError(await request('GET', `/v2/acmeimg/nothing/manifests/v1`, { token: await token('acmeimg/nothing') }), 404, 'NAME_UNKNOWN');
    expectError(await request('GET', `/v2/${repo}/blobs/${sha256('absent')}`, { token: auth }), 404, 'BLOB_UNKNOWN');

    const tags = await dockyard.call('GET', `/api/v1/workspaces/acmeimg/repositories/app/tags`, alice.token);
    expect(tags.status).toBe(200);
    expect(tags.body.items).toEqual([expect.objectContaining({ tag: 'v1', digest, pulls: 1, size: expect.any(Number) })]);
    expect(tags.body.items[0].size).toBeGreaterThan(manifest.length + 1000);
    const repositories = await dockyard.call('GET', '/api/v1/workspaces/acmeimg/repositories', alice.token);
    expect(repositories.body.items).toEqual([expect.objectContaining({ name: 'acmeimg/app', repository: 'app', versions: 1, tags: 1, pulls: 2 })]);
  });

  it('takes chunked uploads in order, answers 416 out of order and tells the status', async () => {
    const repo = 'acmeimg/chunks';
    const auth = await token(repo);
    const bytes = randomBytes(3000);
    const started = await request('POST', `/v2/${repo}/blobs/uploads/`, { token: auth });
    expect(started.status).toBe(202);
    expect(started.headers.get('range')).toBe('0-0');
    const id = started.headers.get('docker-upload-uuid')!;
    const location = started.headers.get('location')!;
    expect(location).toBe(`/v2/${repo}/blobs/uploads/${id}`);
    const octet = { 'content-type': 'application/octet-stream' };
    const first = await request('PATCH', location, { token: auth, body: bytes.subarray(0, 1000), headers: { ...octet, 'content-range': '0-999' } });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-999');
    const skipped = await request('PATCH', location, { token: auth, body: bytes.subarray(2000, 3000), headers: { ...octet, 'content-range': '2000-2999' } });
    expect(skipped.status).toBe(416);
    expect(skipped.headers.get('range')).toBe('0-999');
    const status = await request('GET', location, { token: auth });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-999');
    // A chunk without Content-Range follows what is there (streamed PATCH).
    const second = await request('PATCH', location, { token: auth, body: bytes.subarray(1000, 2000), headers: octet });
    expect(second.headers.get('range')).toBe('0-1999');
    const done = await request('PUT', `${location}?digest=${sha256(bytes)}`, { token: auth, body: bytes.subarray(2000), headers: { ...octet, 'content-range': '2000-2999' } });
    expect(done.status).toBe(201);
    expect((await request('GET', `/v2/${repo}/blobs/${sha256(bytes)}`, { token: auth })).bytes.equals(bytes)).toBe(true);
    expectError(await request('GET', location, { token: auth }), 404, 'BLOB_UPLOAD_UNKNOWN');

    // A chunk longer or shorter than its Content-Range is refused, and nothing of it is kept.
    const other = await request('POST', `/v2/${repo}/blobs/uploads/`, { token: auth });
    const otherLocation = other.headers.get('location')!;
    for (const [range, length] of [['0-99', 200], ['0-299', 200]] as const) {
      const body = randomBytes(length);
      const answer = await raw(
        `PATCH ${otherLocation} HTTP/1.1\r\nHost: ${dockyard.host}\r\nAuthorization: Bearer ${auth}\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Range: ${range}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${length.toString(16)}\r\n`,
        Buffer.concat([body, Buffer.from('\r\n0\r\n\r\n')]),
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('BLOB_UPLOAD_INVALID');
      const after = await request('GET', otherLocation, { token: auth });
      expect(after.headers.get('range')).toBe('0-0');
    }
    const mismatched = await request('PATCH', otherLocation, { token: auth, body: randomBytes(50), headers: { ...octet, 'content-range': '0-99' } });
    expectError(mismatched, 400, 'BLOB_UPLOAD_INVALID');

    const cancelled = await request('POST', `/v2/${repo}/blobs/uploads/`, { token: auth });
    expect((await request('DELETE', cancelled.headers.get('location')!, { token: auth })).status).toBe(204);
    expectError(await request('GET', cancelled.headers.get('location')!, { token: auth }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('refuses wrong and invalid digests and truncated uploads, storing nothing', async () => {
    const repo = 'acmeimg/digests';
    const auth = await token(repo);
    const bytes = randomBytes(500);
    const claimed = sha256('something else');
    expectError(await request('POST', `/v2/${repo}/blobs/uploads/?digest=${claimed}`, { token: auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } }), 400, 'DIGEST_INVALID');
    const started = await request('POST', `/v2/${repo}/blobs/uploads/`, { token: auth });
    const wrong = await request('PUT', `${started.headers.get('location')}?digest=${claimed}`, { token: auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expectError(wrong, 400, 'DIGEST_INVALID');
    expect(storedBlob(sha256(bytes))).toBe(false);
    expect(storedBlob(claimed)).toBe(false);
    for (const digest of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:' + 'A'.repeat(64), '..%2F..%2Fetc']) {
      const answer = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { token: auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      expectError(answer, 400, 'DIGEST_INVALID');
    }
    expectError(await request('GET', `/v2/${repo}/blobs/sha256:zzz`, { token: auth }), 400, 'DIGEST_INVALID');

    // Content-Length promises more than arrives, then the client goes away.
    const cut = randomBytes(100);
    await raw(
      `POST /v2/${repo}/blobs/uploads/?digest=${sha256(randomBytes(1))} HTTP/1.1\r\nHost: ${dockyard.host}\r\nAuthorization: Bearer ${auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`,
      cut,
      true,
    );
    const chunked = await request('POST', `/v2/${repo}/blobs/uploads/`, { token: auth });
    const location = chunked.headers.get('location')!;
    await raw(
      `PATCH ${location} HTTP/1.1\r\nHost: ${dockyard.host}\r\nAuthorization: Bearer ${auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`,
      cut,
      true,
    );
    const after = await request('GET', location, { token: auth });
    expect(after.status).toBe(204);
    expect(after.headers.get('range')).toBe('0-0');
    expect(readdirSync(path.join(dockyard.storageDir, 'scratch'))).toEqual([]);
  });

  it('refuses bad names, path traversal and bad tags with 400, before asking who calls', async () => {
    for (const name of ['acmeimg/../etc', 'acmeimg/UPPER', 'acmeimg//x', 'single', 'acmeimg/%2e%2e/x', 'acmeimg/a%2Fb']) {
      const answer = await raw(`GET /v2/${name}/manifests/latest HTTP/1.1\r\nHost: ${dockyard.host}\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"NAME_INVALID"');
    }
    const auth = await token('acmeimg/app');
    for (const tag of ['..', '.hidden', '-x', 'a'.repeat(129), 'a%2Fb']) {
      const answer = await raw(`GET /v2/acmeimg/app/manifests/${tag} HTTP/1.1\r\nHost: ${dockyard.host}\r\nAuthorization: Bearer ${auth}\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    }
    const traversal = await raw(`GET /v2/acmeimg/app/blobs/../../../../etc/passwd HTTP/1.1\r\nHost: ${dockyard.host}\r\nAuthorization: Bearer ${auth}\r\nConnection: close\r\n\r\n`);
    expect(traversal).toMatch(/^HTTP\/1\.1 (400|404) /);
    expect(traversal).not.toContain('root:');
  });

  it('validates manifests: missing blobs, bad JSON, wrong digest, oversize (413)', async () => {
    const repo = 'acmeimg/manifests';
    const auth = await token(repo);
    const headers = { 'content-type': OCI_MANIFEST };
    const config = Buffer.from('{}');
    await pushBlob(repo, config);
    const missing = imageManifest({ bytes: config }, [randomBytes(10)]);
    expectError(await request('PUT', `/v2/${repo}/manifests/v1`, { token: auth, body: missing, headers }), 400, 'MANIFEST_BLOB_UNKNOWN');
    expectError(await request('PUT', `/v2/${repo}/manifests/v1`, { token: auth, body: '{"schemaVersion":', headers }), 400, 'MANIFEST_INVALID');
    expectError(await request('PUT', `/v2/${repo}/manifests/v1`, { token: auth, body: '{"schemaVersion":2,"config":{}}', headers }), 400, 'MANIFEST_INVALID');
    expectError(await request('PUT', `/v2/${repo}/manifests/v1`, { token: auth, body: imageManifest({ bytes: config }, []), headers: { 'content-type': 'text/plain' } }), 400, 'MANIFEST_INVALID');
    const good = imageManifest({ bytes: config }, []);
    expectError(await request('PUT', `/v2/${repo}/manifests/${sha256('other')}`, { token: auth, body: good, headers }), 400, 'DIGEST_INVALID');
    expect((await request('PUT', `/v2/${repo}/manifests/${sha256(good)}`, { token: auth, body: good, headers })).status).toBe(201);

    // Docker schema 2 manifests and indexes of manifests present in the repository.
    const docker = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
        layers: [],
      }),
    );
    const dockerType = 'application/vnd.docker.distribution.manifest.v2+json';
    expect((await request('PUT', `/v2/${repo}/manifests/docker`, { token: auth, body: docker, headers: { 'content-type': dockerType } })).status).toBe(201);
    expect((await request('GET', `/v2/${repo}/manifests/docker`, { token: auth })).headers.get('content-type')).toBe(dockerType);
    const index = (children: string[]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: children.map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: 10, platform: { os: 'linux', architecture: 'amd64' } })),
        }),
      );
    const indexType = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    expect((await request('PUT', `/v2/${repo}/manifests/multi`, { token: auth, body: index([sha256(good)]), headers: indexType })).status).toBe(201);
    expectError(await request('PUT', `/v2/${repo}/manifests/multi`, { token: auth, body: index([sha256(good), sha256('absent')]), headers: indexType }), 400, 'MANIFEST_BLOB_UNKNOWN');

    const padded = (size: number) => {
      const base = JSON.parse(good.toString());
      base.annotations = { pad: '' };
      const bytes = Buffer.from(JSON.stringify(base));
      base.annotations.pad = 'x'.repeat(size - bytes.length);
      return Buffer.from(JSON.stringify(base));
    };
    const fourMiB = padded(4 * 1024 * 1024);
    expect(fourMiB.length).toBe(4 * 1024 * 1024);
    expect((await request('PUT', `/v2/${repo}/manifests/big`, { token: auth, body: fourMiB, headers })).status).toBe(201);
    const over = await request('PUT', `/v2/${repo}/manifests/bigger`, { token: auth, body: padded(4 * 1024 * 1024 + 1), headers });
    expectError(over, 413, 'SIZE_INVALID');
    expectError(await request('GET', `/v2/${repo}/manifests/bigger`, { token: auth }), 404, 'MANIFEST_UNKNOWN');
  });

  it('mounts a blob from another repository the caller may read, else starts an upload', async () => {
    const layer = randomBytes(300);
    const digest = await pushBlob('acmeimg/source', layer);
    const scopes = ['repository:acmeimg/target:pull,push', 'repository:acmeimg/source:pull'];
    const auth = await dockyard.registryToken(scopes, { username: 'alice', password: alice.password });
    const mounted = await request('POST', `/v2/acmeimg/target/blobs/uploads/?mount=${digest}&from=acmeimg/source`, { token: auth });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/acmeimg/target/blobs/${digest}`);
    expect((await request('GET', `/v2/acmeimg/target/blobs/${digest}`, { token: auth })).bytes.equals(layer)).toBe(true);
    const absent = await request('POST', `/v2/acmeimg/target/blobs/uploads/?mount=${sha256('none')}&from=acmeimg/source`, { token: auth });
    expect(absent.status).toBe(202);
    // Without pull on `from`, no mount: the blob's existence is not revealed.
    const narrow = await dockyard.registryToken(['repository:acmeimg/third:pull,push'], { username: 'alice', password: alice.password });
    const refused = await request('POST', `/v2/acmeimg/third/blobs/uploads/?mount=${digest}&from=acmeimg/source`, { token: narrow });
    expect(refused.status).toBe(202);
    expectError(await request('GET', `/v2/acmeimg/third/blobs/${digest}`, { token: narrow }), 404, 'BLOB_UNKNOWN');
  });

  it('lists tags lexically with n, last and a Link to the next page', async () => {
    const repo = 'acmeimg/tagged';
    const auth = await token(repo);
    const { manifest } = await pushImage(repo, 'b');
    for (const tag of ['a', 'c', 'd', 'e', 'A', '1.0']) {
      expect((await request('PUT', `/v2/${repo}/manifests/${tag}`, { token: auth, body: manifest, headers: { 'content-type': OCI_MANIFEST } })).status).toBe(201);
    }
    const all = await request('GET', `/v2/${repo}/tags/list`, { token: auth });
    expect(all.json).toEqual({ name: repo, tags: ['1.0', 'A', 'a', 'b', 'c', 'd', 'e'] });
    const first = await request('GET', `/v2/${repo}/tags/list?n=3`, { token: auth });
    expect(first.json.tags).toEqual(['1.0', 'A', 'a']);
    expect(first.headers.get('link')).toBe(`</v2/${repo}/tags/list?n=3&last=a>; rel="next"`);
    const next = await request('GET', `/v2/${repo}/tags/list?n=3&last=a`, { token: auth });
    expect(next.json.tags).toEqual(['b', 'c', 'd']);
    const lastPage = await request('GET', `/v2/${repo}/tags/list?n=3&last=d`, { token: auth });
    expect(lastPage.json.tags).toEqual(['e']);
    expect(lastPage.headers.get('link')).toBeNull();
    expectError(await request('GET', `/v2/${repo}/tags/list?n=x`, { token: auth }), 400, 'PAGINATION_NUMBER_INVALID');

    // DELETE by tag removes the tag only; by digest the manifest and every tag.
    expect((await request('DELETE', `/v2/${repo}/manifests/e`, { token: auth })).status).toBe(202);
    expect((await request('GET', `/v2/${repo}/tags/list`, { token: auth })).json.tags).not.toContain('e');
    expect((await request('DELETE', `/v2/${repo}/manifests/${sha256(manifest)}`, { token: auth })).status).toBe(202);
    expect((await request('GET', `/v2/${repo}/tags/list`, { token: auth })).json.tags).toEqual([]);
    expectError(await request('GET', `/v2/${repo}/manifests/a`, { token: auth }), 404, 'MANIFEST_UNKNOWN');
    expectError(await request('DELETE', `/v2/${repo}/manifests/${sha256(manifest)}`, { token: auth }), 404, 'MANIFEST_UNKNOWN');
  });

  it('answers referrers of a subject, filtered by artifactType, and OCI-Subject on the push', async () => {
    const repo = 'acmeimg/signed';
    const auth = await token(repo);
    const subject = await pushImage(repo, 'v1');
    const descriptor = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
    const signature = await pushImage(repo, sha256('placeholder').replace(/.$/, '0'), { subject: descriptor, artifactType: 'application/vnd.example.signature', annotations: { who: 'alice' } }).catch(() => undefined);
    expect(signature).toBeUndefined(); // pushing by a digest that is not the manifest's is refused
    const sig = await pushImage(repo, 'sig', { subject: descriptor, artifactType: 'application/vnd.example.signature', annotations: { who: 'alice' } });
    expect(sig.put.headers.get('oci-subject')).toBe(subject.digest);
    await pushImage(repo, 'sbom', { subject: descriptor, artifactType: 'application/spdx+json' });
    const all = await request('GET', `/v2/${repo}/referrers/${subject.digest}`, { token: auth });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
    expect(all.json.manifests.map((m: any) => m.artifactType).sort()).toEqual(['application/spdx+json', 'application/vnd.example.signature']);
    const filtered = await request('GET', `/v2/${repo}/referrers/${subject.digest}?artifactType=application/vnd.example.signature`, { token: auth });
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(filtered.json).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.manifest.length, artifactType: 'application/vnd.example.signature', annotations: { who: 'alice' } }],
    });
    const none = await request('GET', `/v2/${repo}/referrers/${sha256('nothing')}`, { token: auth });
    expect(none.json.manifests).toEqual([]);
  });

  it('lets anybody pull from a public workspace and nobody see a private one without rights', async () => {
    const published = await pushImage('acmepub/tool', 'latest');
    const anonymous = await request('GET', `/v2/acmepub/tool/manifests/latest`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.bytes.equals(published.manifest)).toBe(true);
    expectError(await request('PUT', `/v2/acmepub/tool/manifests/latest`, { body: published.manifest, headers: { 'content-type': OCI_MANIFEST } }), 401, 'UNAUTHORIZED');
    for (const route of ['/v2/acmeimg/app/manifests/v1', '/v2/acmeimg/ghost/manifests/v1', '/v2/noworkspace/x/tags/list']) {
      const answer = await request('GET', route);
      expectError(answer, 401, 'UNAUTHORIZED');
      expect(answer.headers.get('www-authenticate')).toContain(`scope="repository:${route.split('/').slice(2, 4).join('/')}:pull"`);
    }
    const bob = await dockyard.createUser('bob');
    const bobs = await dockyard.registryToken(['repository:acmeimg/app:pull,push'], { username: 'bob', password: bob.password });
    expectError(await request('GET', '/v2/acmeimg/app/manifests/v1', { token: bobs }), 401, 'UNAUTHORIZED');
    expect((await dockyard.call('GET', '/api/v1/workspaces/acmeimg/repositories', bob.token)).status).toBe(404);
  });

  it('takes concurrent pushes of the same blob', async () => {
    const repo = 'acmeimg/concurrent';
    const bytes = randomBytes(200_000);
    const digests = await Promise.all([1, 2, 3, 4].map(() => pushBlob(repo, bytes)));
    expect(new Set(digests).size).toBe(1);
    expect((await request('GET', `/v2/${repo}/blobs/${digests[0]}`, { token: await token(repo) })).bytes.equals(bytes)).toBe(true);
  });

  it('refuses pushes past the registry quota with DENIED naming the quota', async () => {
    await dockyard.ensureProject('tight/web');
    await dockyard.addMember('tight', 'alice', 'org-admin');
    await dockyard.createWorkspace('tightimg', { org: 'tight', project: 'web' });
    const quota = await fetch(`${dockyard.crew.url}/api/v1/orgs/tight/quotas`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ maxRegistryBytes: 5000 }),
    });
    expect(quota.status).toBeLessThan(300);
    const repo = 'tightimg/app';
    await pushBlob(repo, randomBytes(4000));
    const auth = await token(repo);
    const bytes = randomBytes(2000);
    const denied = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, { token: auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expectError(denied, 403, 'DENIED');
    expect(denied.json.errors[0].message).toContain("organization tight's registry quota of 5000 bytes");
    expect(storedBlob(sha256(bytes))).toBe(false);

    // Binary artifacts and charts count against the same quota.
    const file = randomBytes(2000);
    const artifact = await fetch(`${dockyard.url}/binary/v1/tightimg/tools/binary/1.0/tool.bin`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/octet-stream' },
      body: file,
    });
    expect(artifact.status).toBe(403);
    expect(((await artifact.json()) as any).error).toMatchObject({ code: 'QUOTA.EXCEEDED' });
    expect(storedBlob(sha256(file))).toBe(false);
    // What is left (1000 bytes) fits; then nothing is left, and a chart is refused before it is read.
    const small = randomBytes(1000);
    const fits = await fetch(`${dockyard.url}/binary/v1/tightimg/tools/binary/1.0/small.bin`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/octet-stream' },
      body: small,
    });
    expect(fits.status).toBe(201);
    const chart = await fetch(`${dockyard.url}/api/tightimg/charts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dockyard.crew.admin.token}`, 'content-type': 'application/octet-stream' },
      body: randomBytes(1000),
    });
    expect(chart.status).toBe(403);
    expect(((await chart.json()) as any).error).toMatchObject({ code: 'QUOTA.EXCEEDED' });
  });

  it('publishes ImagePushed and ImageDeleted on NATS once the manifest is stored or gone', async () => {
    nats = await connect({ servers: NATS_URL });
    const seen: { subject: string; text: string }[] = [];
    const subscription = nats.subscribe(`${dockyard.prefix}.dockyard.image.>`);
    void (async () => {
      for await (const message of subscription) seen.push({ subject: message.subject, text: message.string() });
    })();
    const repo = 'acmeimg/evented';
    const pushed = await pushImage(repo, 'v7');
    const event = await eventually(async () => seen.find((entry) => entry.subject.endsWith('.ImagePushed') && entry.text.includes(pushed.digest)), 15_000, 'ImagePushed');
    expect(event.subject).toBe(`${dockyard.prefix}.dockyard.image.ImagePushed`);
    expect(JSON.parse(event.text)).toMatchObject({
      data: { repository: repo, workspace: 'acmeimg', org: 'acme', project: 'web', tag: 'v7', digest: pushed.digest, mediaType: OCI_MANIFEST, size: pushed.manifest.length, subject: null, pushedBy: expect.any(String) },
    });
    expect((await request('DELETE', `/v2/${repo}/manifests/${pushed.digest}`, { token: await token(repo) })).status).toBe(202);
    const deleted = await eventually(async () => seen.find((entry) => entry.subject.endsWith('.ImageDeleted') && entry.text.includes(pushed.digest)), 15_000, 'ImageDeleted');
    expect(JSON.parse(deleted.text)).toMatchObject({ data: { repository: repo, digest: pushed.digest, tags: ['v7'], manifestDeleted: true } });
    subscription.unsubscribe();
  });

  it('deletes tags and versions through the REST pages', async () => {
    const repo = 'acmeimg/team/web';
    const first = await pushImage(repo, 'one');
    await pushImage(repo, 'two');
    const base = '/api/v1/workspaces/acmeimg/repositories/team%2Fweb';
    expect((await dockyard.call('GET', `${base}/tags`, alice.token)).body.items.map((item: any) => item.tag)).toEqual(['one', 'two']);
    expect((await dockyard.call('DELETE', `${base}/tags/two`, alice.token)).status).toBe(204);
    expect((await dockyard.call('DELETE', `${base}/tags/two`, alice.token)).body.error.code).toBe('TAG.NOT_FOUND');
    expect((await dockyard.call('DELETE', `${base}/manifests/${first.digest}`, alice.token)).status).toBe(204);
    expect((await dockyard.call('GET', `${base}/tags`, alice.token)).body.items).toEqual([]);
    const summary = (await dockyard.call('GET', '/api/v1/workspaces/acmeimg/repositories', alice.token)).body.items.find((item: any) => item.name === repo);
    expect(summary).toMatchObject({ repository: 'team/web', versions: 1, tags: 0 });
    expect((await dockyard.call('GET', '/api/v1/workspaces/acmeimg/repositories/nothing/tags', alice.token)).body.error.code).toBe('REPOSITORY.NOT_FOUND');
  });

  it('resumes an interrupted upload by its id after a restart', async () => {
    const repository = 'acmeimg/resumed';
    const auth = await token(repository);
    const bytes = randomBytes(3000);
    const started = await request('POST', `/v2/${repository}/blobs/uploads/`, { token: auth });
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    const first = await request('PATCH', location, { token: auth, body: bytes.subarray(0, 1000), headers: { 'content-type': 'application/octet-stream', 'content-range': '0-999' } });
    expect(first.status).toBe(202);

    await dockyard.restart();

    const status = await request('GET', location, { token: auth });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-999');
    const rest = await request('PATCH', location, { token: auth, body: bytes.subarray(1000), headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-2999' } });
    expect(rest.status).toBe(202);
    const done = await request('PUT', `${location}?digest=${sha256(bytes)}`, { token: auth });
    expect(done.status).toBe(201);
    const pulled = await request('GET', `/v2/${repository}/blobs/${sha256(bytes)}`, { token: auth });
    expect(pulled.status).toBe(200);
    expect(sha256(pulled.bytes)).toBe(sha256(bytes));
  });
});
