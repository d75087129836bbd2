import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { FilesystemBlobStore } from './filesystem.blob-store';
import { BlobTooLargeError, DigestMismatchError, UploadOffsetError } from './storage-errors';

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const sha512 = (data: string | Buffer) => `sha512:${createHash('sha512').update(data).digest('hex')}`;

describe('FilesystemBlobStore', () => {
  let root: string;
  let store: FilesystemBlobStore;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'blobs-'));
    store = new FilesystemBlobStore(root);
    await store.initialize();
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('stores a stream under its sha256 and reads it back whole and by range', async () => {
    const stored = await store.put(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(stored).toEqual({ digest: sha256('hello world'), size: 11 });
    expect(await text((await store.open(stored.digest))!)).toBe('hello world');
    expect(await text((await store.open(stored.digest, { start: 6, end: 10 }))!)).toBe('world');
    expect(await store.stat(stored.digest)).toEqual(stored);
  });

  it('verifies sha512 digests and stores nothing for a wrong digest', async () => {
    expect((await store.put(Readable.from(['abc']), { expectedDigest: sha512('abc') })).digest).toBe(sha512('abc'));
    await expect(store.put(Readable.from(['abc']), { expectedDigest: sha256('abd') })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.stat(sha256('abc'))).toBeUndefined();
    expect(await readdir(path.join(root, 'scratch'))).toEqual([]);
  });

  it('refuses content over the limit and keeps nothing of it', async () => {
    await expect(store.put(Readable.from(['0123456789']), { maxBytes: 5 })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(await readdir(path.join(root, 'scratch'))).toEqual([]);
  });

  it('appends chunks in order, refuses a chunk at the wrong offset, and completes with a verified digest', async () => {
    const id = randomUUID();
    await store.startUpload(id);
    expect(await store.appendUpload(id, Readable.from(['abc']), { offset: 0 })).toBe(3);
    await expect(store.appendUpload(id, Readable.from(['xyz']), { offset: 1 })).rejects.toBeInstanceOf(UploadOffsetError);
    expect(await store.appendUpload(id, Readable.from(['def']), { offset: 3 })).toBe(6);
    expect(await store.completeUpload(id, sha256('abcdef'))).toEqual({ digest: sha256('abcdef'), size: 6 });
    expect(await store.uploadSize(id)).toBeUndefined();
    expect(await text((await store.open(sha256('abcdef')))!)).toBe('abcdef');
  });

  it('resumes an upload in a new process (hashing the file again) and discards it on a wrong digest', async () => {
    const id = randomUUID();
    await store.startUpload(id);
    await store.appendUpload(id, Readable.from(['abc']), { offset: 0 });
    const restarted = new FilesystemBlobStore(root);
    await restarted.initialize();
    expect(await restarted.uploadSize(id)).toBe(3);
    expect(await restarted.appendUpload(id, Readable.from(['def']), { offset: 3 })).toBe(6);
    expect((await restarted.completeUpload(id, sha256('abcdef'))).size).toBe(6);

    const other = randomUUID();
    await restarted.startUpload(other);
    await restarted.appendUpload(other, Readable.from(['abc']), { offset: 0 });
    await expect(restarted.completeUpload(other, sha256('abx'))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await restarted.uploadSize(other)).toBeUndefined();
    expect(await restarted.stat(sha256('abc'))).toBeUndefined();
  });

  it('leaves an upload as it was when a chunk fails midway', async () => {
    const id = randomUUID();
    await store.startUpload(id);
    await store.appendUpload(id, Readable.from(['abc']), { offset: 0 });
    const failing = new Readable({
      read() {
        this.push('de');
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.appendUpload(id, failing, { offset: 3 })).rejects.toThrow('connection reset');
    expect(await store.uploadSize(id)).toBe(3);
    await store.appendUpload(id, Readable.from(['def']), { offset: 3 });
    expect((await store.completeUpload(id, sha256('abcdef'))).digest).toBe(sha256('abcdef'));
  });

  it('lists blobs and uploads, and never reads outside its folder', async () => {
    await store.put(Readable.from(['one']));
    const id = randomUUID();
    await store.startUpload(id);
    const blobs = [];
    for await (const blob of store.list()) blobs.push(blob.digest);
    expect(blobs).toEqual([sha256('one')]);
    const uploads = [];
    for await (const upload of store.listUploads()) uploads.push(upload.id);
    expect(uploads).toEqual([id]);
    expect(await store.open('sha256:../../etc/passwd')).toBeUndefined();
    expect(await store.uploadSize('../x')).toBeUndefined();
  });

  it('dates a blob from when it is stored, not from its upload’s last chunk', async () => {
    const id = randomUUID();
    await store.startUpload(id);
    await store.appendUpload(id, Readable.from(['slow client']), { offset: 0 });
    const longAgo = new Date(Date.now() - 3 * 3_600_000);
    await utimes(path.join(root, 'uploads', id), longAgo, longAgo);
    const stored = await store.completeUpload(id, sha256('slow client'));
    const listed = [];
    for await (const blob of store.list()) if (blob.digest === stored.digest) listed.push(blob);
    expect(Date.now() - listed[0].modifiedAt.getTime()).toBeLessThan(60_000);
  });

  it('refuses a chunk of another length than announced and keeps the upload as it was', async () => {
    const id = randomUUID();
    await store.startUpload(id);
    await expect(store.appendUpload(id, Readable.from(['abcdef']), { offset: 0, length: 3 })).rejects.toThrow('announced 3 bytes');
    await expect(store.appendUpload(id, Readable.from(['ab']), { offset: 0, length: 3 })).rejects.toThrow('announced 3 bytes');
    expect(await store.uploadSize(id)).toBe(0);
    expect(await store.appendUpload(id, Readable.from(['abc']), { offset: 0, length: 3 })).toBe(3);
  });
});
