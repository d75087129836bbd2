import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { FilesystemBlobStore } from '../storage/filesystem.blob-store';
import { type ArchiveLimits, readImageArchive } from './import-archive';
import { parseImageName, planDockerArchive, planOciLayout, targetsOf } from './import-plan';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

type Entry = { name: string; content?: string | Buffer; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string };

async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = buffer(Readable.from(pack as unknown as AsyncIterable<Buffer>));
  for (const entry of entries) {
    const content = entry.content === undefined ? undefined : Buffer.from(entry.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: entry.name, type: entry.type ?? 'file', linkname: entry.linkname, size: content?.length ?? 0 }, content ?? Buffer.alloc(0), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  pack.finalize();
  return done;
}

const layer = 'layer bytes, an uncompressed tar in real life';
const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] } });

function dockerArchive(extra: Entry[] = []): Promise<Buffer> {
  return archive([
    { name: `${sha256(layer)}.tar`, content: layer },
    { name: `${sha256(config)}.json`, content: config },
    { name: 'abc/layer.tar', type: 'symlink', linkname: `../${sha256(layer)}.tar` },
    { name: 'abc/json', content: '{}' },
    ...extra,
    { name: 'manifest.json', content: JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: ['localhost/tools/box:1.0'], Layers: ['abc/layer.tar'] }]) },
  ]);
}

describe('image archives', () => {
  let root: string;
  let store: FilesystemBlobStore;
  const limits: ArchiveLimits = { maxBytes: 1024 * 1024, maxUnpackedBytes: 4 * 1024 * 1024, maxEntries: 50, maxDocumentBytes: 1024 };

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'import-'));
    store = new FilesystemBlobStore(root);
    await store.initialize();
  });
  afterEach(() => rm(root, { recursive: true, force: true }));
  const read = async (file: { digest: string }) => buffer((await store.open(file.digest))!);

  it('reads a docker-archive, follows its layer link and builds a schema 2 manifest of what was stored', async () => {
    const contents = await readImageArchive(Readable.from([await dockerArchive()]), store, limits);
    const [image] = await planDockerArchive(contents, contents.documents.get('manifest.json')!, read);
    const manifest = JSON.parse(image.manifest.bytes.toString());
    expect(manifest).toMatchObject({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: `sha256:${sha256(layer)}`, size: layer.length }],
    });
    expect(image.names).toEqual([{ repository: 'tools/box', tag: '1.0' }]);
    expect(await store.stat(`sha256:${sha256(layer)}`)).toBeDefined();
    expect(targetsOf('ws', [image], { repository: 'other', tag: 'v2' })).toEqual([[{ repository: 'ws/other', tag: 'v2' }]]);
  });

  it('reads the same archive gzipped', async () => {
    const contents = await readImageArchive(Readable.from([gzipSync(await dockerArchive())]), store, limits);
    expect(await planDockerArchive(contents, contents.documents.get('manifest.json')!, read)).toHaveLength(1);
  });

  it('refuses a docker-archive whose layer is not the one its config names', async () => {
    const other = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [`sha256:${sha256('another layer')}`] } });
    const body = await archive([
      { name: 'layer.tar', content: layer },
      { name: 'config.json', content: other },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['app:1'], Layers: ['layer.tar'] }]) },
    ]);
    const contents = await readImageArchive(Readable.from([body]), store, limits);
    await expect(planDockerArchive(contents, contents.documents.get('manifest.json')!, read)).rejects.toMatchObject({ code: 'IMPORT.MANIFEST_INVALID' });
  });

  it('reads an OCI layout, verifying blobs against their names', async () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha256(layer)}`, size: layer.length }],
    });
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(manifest)}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1.0' } }] };
    const body = await archive([
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'blobs/sha256/' + sha256(layer), content: layer },
      { name: 'blobs/sha256/' + sha256(config), content: config },
      { name: 'blobs/sha256/' + sha256(manifest), content: manifest },
      { name: 'index.json', content: JSON.stringify(index) },
    ]);
    const contents = await readImageArchive(Readable.from([body]), store, limits);
    const images = await planOciLayout(contents, contents.documents.get('index.json')!, read);
    expect(images[0].manifest.bytes.toString()).toBe(manifest);
    expect(images[0].names).toEqual([{ repository: '', tag: '1.0' }]);
    expect(() => targetsOf('ws', images, {})).toThrow(expect.objectContaining({ code: 'IMPORT.NAME_REQUIRED' }));
    expect(targetsOf('ws', images, { repository: 'app' })).toEqual([[{ repository: 'ws/app', tag: '1.0' }]]);

    const lying = await archive([{ name: 'blobs/sha256/' + sha256('other'), content: layer }]);
    await expect(readImageArchive(Readable.from([lying]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.DIGEST_MISMATCH' });
  });

  it.each([
    ['../escape.tar', 'IMPORT.ARCHIVE_UNSAFE'],
    ['/etc/passwd', 'IMPORT.ARCHIVE_UNSAFE'],
    ['a/../../b', 'IMPORT.ARCHIVE_UNSAFE'],
  ])('refuses the entry %s', async (name, code) => {
    await expect(readImageArchive(Readable.from([await dockerArchive([{ name, content: 'x' }])]), store, limits)).rejects.toMatchObject({ code });
  });

  it('refuses links out of the archive, too many entries, big documents, oversize bodies and non-archives', async () => {
    const link = await dockerArchive([{ name: 'evil', type: 'symlink', linkname: '../../etc/shadow' }]);
    await expect(readImageArchive(Readable.from([link]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.ARCHIVE_UNSAFE' });
    const many = await archive(Array.from({ length: 60 }, (_, index) => ({ name: `d${index}`, type: 'directory' as const })));
    await expect(readImageArchive(Readable.from([many]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.TOO_MANY_ENTRIES' });
    const big = await archive([{ name: 'manifest.json', content: 'x'.repeat(2000) }]);
    await expect(readImageArchive(Readable.from([big]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.MANIFEST_TOO_LARGE' });
    const huge = await archive([{ name: 'blob', content: Buffer.alloc(2 * 1024 * 1024, 1) }]);
    await expect(readImageArchive(Readable.from([huge]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.TOO_LARGE' });
    const bomb = gzipSync(await archive([{ name: 'blob', content: Buffer.alloc(8 * 1024 * 1024) }]));
    await expect(readImageArchive(Readable.from([bomb]), store, limits)).rejects.toMatchObject({ code: 'IMPORT.TOO_LARGE' });
    await expect(readImageArchive(Readable.from([Buffer.from('not a tar at all'.repeat(100))]), store, limits)).rejects.toMatchObject({
      code: 'IMPORT.ARCHIVE_INVALID',
    });
    await expect(readImageArchive(Readable.from([gzipSync('not a tar either'.repeat(100))]), store, limits)).rejects.toMatchObject({
      code: 'IMPORT.ARCHIVE_INVALID',
    });
  });

  it('reads image names as docker and podman write them', () => {
    expect(parseImageName('docker.io/library/busybox:latest')).toEqual({ repository: 'busybox', tag: 'latest' });
    expect(parseImageName('registry:5000/team/app:1')).toEqual({ repository: 'team/app', tag: '1' });
    expect(parseImageName('app:2')).toEqual({ repository: 'app', tag: '2' });
    expect(parseImageName('app')).toBeUndefined();
    expect(parseImageName('app@sha256:abc')).toBeUndefined();
  });
});
