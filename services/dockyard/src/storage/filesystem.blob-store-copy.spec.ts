import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FilesystemBlobStore } from './filesystem.blob-store';

/**
 * A destination that takes its time, as a slow client, and copies each chunk only when
 * it is done with it: a buffer reused before its write completed shows as wrong bytes.
 */
function slowSink(delayMs = 1, highWaterMark = 64 * 1024): Writable & { received: () => Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, done) {
      setTimeout(() => {
        parts.push(Buffer.from(chunk));
        done();
      }, delayMs);
    },
  });
  return Object.assign(sink, { received: () => Buffer.concat(parts) });
}

describe('FilesystemBlobStore.copyTo', () => {
  let root: string;
  let store: FilesystemBlobStore;
  const content = randomBytes(5 * 1024 * 1024 + 123);
  let digest: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'blob-copy-'));
    store = new FilesystemBlobStore(root);
    await store.initialize();
    ({ digest } = await store.put(Readable.from([content])));
    expect(digest).toBe(`sha256:${createHash('sha256').update(content).digest('hex')}`);
  });

  afterAll(() => rm(root, { recursive: true, force: true }));

  it('copies every byte through its reused buffers to a slow destination, and ends it', async () => {
    const sink = slowSink();
    const finished = new Promise((resolve) => sink.once('finish', resolve));
    await expect(store.copyTo(digest, sink)).resolves.toBe(true);
    await finished;
    expect(sink.received().equals(content)).toBe(true);
  });

  it('copies a range, both ends included', async () => {
    const sink = slowSink(0);
    const finished = new Promise((resolve) => sink.once('finish', resolve));
    await store.copyTo(digest, sink, { start: 1000, end: 3 * 1024 * 1024 });
    await finished;
    expect(sink.received().equals(content.subarray(1000, 3 * 1024 * 1024 + 1))).toBe(true);
  });

  it('answers false for a blob it does not hold, writing nothing', async () => {
    const sink = slowSink();
    await expect(store.copyTo(`sha256:${'0'.repeat(64)}`, sink)).resolves.toBe(false);
    expect(sink.writableLength).toBe(0);
    expect(sink.writableEnded).toBe(false);
  });

  it('stops quietly when the destination goes away mid-copy', async () => {
    const sink = slowSink(5);
    setTimeout(() => sink.destroy(), 20);
    await expect(store.copyTo(digest, sink)).resolves.toBe(true);
    expect(sink.received().length).toBeLessThan(content.length);
  });
});
