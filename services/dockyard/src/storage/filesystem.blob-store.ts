import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, BlobStore, ByteRange, PutOptions } from './blob-store';
import { type DigestAlgorithm, DIGEST_ALGORITHMS, parseDigest } from './digest';
import { BlobTooLargeError, ChunkLengthError, DigestMismatchError, UnknownUploadError, UploadOffsetError } from './storage-errors';

const UPLOAD_ID = /^[A-Za-z0-9-]{1,64}$/;
const WRITE_BUFFER = 1024 * 1024;
/** copyTo(): a download goes through this many buffers of this size, reused. */
const COPY_BUFFERS = 8;
const COPY_BUFFER = 256 * 1024;

/** The hash of an upload as far as it has been received, kept while the process lives. */
interface RunningHash {
  hash: Hash;
  size: number;
}

/**
 * Blobs as files under `<root>/blobs/<algorithm>/<first two hex>/<hex>`, uploads under
 * `<root>/uploads/<id>`. A blob is written to a file beside the blobs, hashed on the
 * way, and renamed into place: readers see all of it or none. Content is identical for
 * one digest, so two writers of the same blob race harmlessly.
 *
 * An upload's running sha256 is kept in memory so that completing it costs no second
 * read; after a restart (or for a sha512 digest) the file is hashed again instead.
 */
export class FilesystemBlobStore implements BlobStore {
  private readonly running = new Map<string, RunningHash>();
  private readonly uploadLocks = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  async initialize(): Promise<void> {
    for (const algorithm of DIGEST_ALGORITHMS) await mkdir(path.join(this.root, 'blobs', algorithm), { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
    await mkdir(this.scratchDir, { recursive: true });
    // Files of puts cut short by a crash; an upload is kept, it may be resumed.
    for (const name of await readdir(this.scratchDir)) await rm(path.join(this.scratchDir, name), { force: true });
  }

  async put(source: Readable, options: PutOptions = {}): Promise<BlobInfo> {
    const expected = options.expectedDigest === undefined ? undefined : parseDigest(options.expectedDigest);
    if (options.expectedDigest !== undefined && !expected) throw new DigestMismatchError(options.expectedDigest, 'not a supported digest');
    const algorithm: DigestAlgorithm = expected?.algorithm ?? 'sha256';
    const scratch = path.join(this.scratchDir, randomUUID());
    const counter = new HashingCounter(createHash(algorithm), options.maxBytes);
    try {
      await writeFile(scratch, 'w', source, counter);
      const digest = `${algorithm}:${counter.hash.digest('hex')}`;
      if (options.expectedDigest !== undefined && digest !== options.expectedDigest) throw new DigestMismatchError(options.expectedDigest, digest);
      await this.moveIntoPlace(scratch, digest);
      return { digest, size: counter.size };
    } catch (error) {
      await rm(scratch, { force: true });
      throw error;
    }
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    const file = this.blobPath(digest);
    if (!file) return undefined;
    const found = await stat(file).catch(() => undefined);
    return found?.isFile() ? { digest, size: found.size } : undefined;
  }

  async open(digest: string, range?: ByteRange): Promise<Readable | undefined> {
    const file = this.blobPath(digest);
    if (!file) return undefined;
    // Opened before the stream is made, so that a missing blob is an answer, not a stream error.
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return undefined;
    // The stream owns the handle and closes it once, when it ends or is destroyed.
    return createReadStream('', { fd: handle, autoClose: true, highWaterMark: WRITE_BUFFER, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  /**
   * Writes the blob (or the range of it) into `destination` (an HTTP response) and ends
   * it; false when the blob is not stored, before anything is written. Unlike open(),
   * which hands out a new buffer per chunk, a few buffers are reused, each once the
   * destination has passed its bytes on (its write callback): a download of any size
   * gives the garbage collector no buffers to collect. A destination that closes early
   * (the client went away) ends the copy quietly.
   */
  async copyTo(digest: string, destination: Writable, range?: ByteRange): Promise<boolean> {
    const file = this.blobPath(digest);
    if (!file) return false;
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return false;
    const free: Buffer[] = [];
    let made = 0;
    let waiting: (() => void) | undefined;
    const wake = () => {
      const resume = waiting;
      waiting = undefined;
      resume?.();
    };
    const release = (buffer: Buffer) => {
      free.push(buffer);
      wake();
    };
    destination.on('close', wake);
    destination.on('drain', wake);
    try {
      let position = range?.start ?? 0;
      const end = range ? range.end + 1 : (await handle.stat()).size;
      while (position < end && !destination.destroyed) {
        if (destination.writableNeedDrain || (!free.length && made >= COPY_BUFFERS)) {
          await new Promise<void>((resolve) => (waiting = resolve));
          continue;
        }
        const buffer = free.pop() ?? (made++, Buffer.allocUnsafeSlow(COPY_BUFFER));
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
        if (bytesRead === 0) throw new Error(`blob ${digest} ends at byte ${position}, before byte ${end}`);
        position += bytesRead;
        destination.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), () => release(buffer));
      }
      if (!destination.destroyed) destination.end();
      return true;
    } finally {
      destination.off('close', wake);
      destination.off('drain', wake);
      await handle.close();
    }
  }

  async delete(digest: string): Promise<boolean> {
    const file = this.blobPath(digest);
    if (!file) return false;
    return unlink(file).then(
      () => true,
      () => false,
    );
  }

  async touch(digest: string): Promise<boolean> {
    const file = this.blobPath(digest);
    if (!file) return false;
    const now = new Date();
    return utimes(file, now, now).then(
      () => true,
      () => false,
    );
  }

  async *list(): AsyncIterable<BlobInfo & { modifiedAt: Date }> {
    for (const algorithm of DIGEST_ALGORITHMS) {
      const base = path.join(this.root, 'blobs', algorithm);
      for (const prefix of await readdir(base).catch(() => [] as string[])) {
        for (const name of await readdir(path.join(base, prefix)).catch(() => [] as string[])) {
          const digest = `${algorithm}:${name}`;
          if (!parseDigest(digest)) continue;
          const found = await stat(path.join(base, prefix, name)).catch(() => undefined);
          if (found?.isFile()) yield { digest, size: found.size, modifiedAt: found.mtime };
        }
      }
    }
  }

  async startUpload(id: string): Promise<void> {
    const file = this.uploadPath(id);
    await (await open(file, 'wx')).close();
    this.running.set(id, { hash: createHash('sha256'), size: 0 });
  }

  appendUpload(id: string, source: Readable, options: { offset: number; maxBytes?: number; length?: number }): Promise<number> {
    return this.serialized(id, async () => {
      const file = this.uploadPath(id);
      const current = await stat(file).catch(() => undefined);
      if (!current) throw new UnknownUploadError(id);
      if (options.offset !== current.size) throw new UploadOffsetError(current.size, options.offset);
      let running = this.running.get(id);
      if (running && running.size !== current.size) running = undefined;
      const caps = [options.maxBytes === undefined ? undefined : options.maxBytes - current.size, options.length].filter((cap): cap is number => cap !== undefined);
      const counter = new HashingCounter(running?.hash, caps.length ? Math.min(...caps) : undefined);
      this.running.delete(id);
      try {
        await writeFile(file, 'a', source, counter);
        if (options.length !== undefined && counter.size !== options.length) throw new ChunkLengthError(options.length, counter.size);
      } catch (error) {
        if (error instanceof BlobTooLargeError && options.length !== undefined && counter.size > options.length) error = new ChunkLengthError(options.length, counter.size);
        // What was written of a chunk that failed stays out: the upload is as it was before it.
        const handle = await open(file, 'r+');
        await handle.truncate(current.size).finally(() => handle.close());
        throw error;
      }
      const size = current.size + counter.size;
      if (running) this.running.set(id, { hash: running.hash, size });
      return size;
    });
  }

  async uploadSize(id: string): Promise<number | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    const found = await stat(this.uploadPath(id)).catch(() => undefined);
    return found?.size;
  }

  completeUpload(id: string, expectedDigest: string): Promise<BlobInfo> {
    return this.serialized(id, async () => {
      const file = this.uploadPath(id);
      const current = await stat(file).catch(() => undefined);
      if (!current) throw new UnknownUploadError(id);
      const expected = parseDigest(expectedDigest);
      const running = this.running.get(id);
      this.running.delete(id);
      let actual: string;
      if (expected?.algorithm === 'sha256' && running && running.size === current.size) {
        actual = `sha256:${running.hash.digest('hex')}`;
      } else {
        const hash = createHash(expected?.algorithm ?? 'sha256');
        await pipeline(createReadStream(file, { highWaterMark: WRITE_BUFFER }), new HashingCounter(hash));
        actual = `${expected?.algorithm ?? 'sha256'}:${hash.digest('hex')}`;
      }
      if (!expected || actual !== expectedDigest) {
        await rm(file, { force: true });
        throw new DigestMismatchError(expectedDigest, actual);
      }
      await this.moveIntoPlace(file, actual);
      return { digest: actual, size: current.size };
    });
  }

  async abortUpload(id: string): Promise<void> {
    this.running.delete(id);
    if (UPLOAD_ID.test(id)) await rm(this.uploadPath(id), { force: true });
  }

  async *listUploads(): AsyncIterable<{ id: string; size: number; modifiedAt: Date }> {
    for (const id of await readdir(this.uploadsDir).catch(() => [] as string[])) {
      if (!UPLOAD_ID.test(id)) continue;
      const found = await stat(path.join(this.uploadsDir, id)).catch(() => undefined);
      if (found?.isFile()) yield { id, size: found.size, modifiedAt: found.mtime };
    }
  }

  private get uploadsDir(): string {
    return path.join(this.root, 'uploads');
  }

  private get scratchDir(): string {
    return path.join(this.root, 'scratch');
  }

  private blobPath(digest: string): string | undefined {
    const parsed = parseDigest(digest);
    if (!parsed) return undefined;
    return path.join(this.root, 'blobs', parsed.algorithm, parsed.encoded.slice(0, 2), parsed.encoded);
  }

  private uploadPath(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new UnknownUploadError(id);
    return path.join(this.uploadsDir, id);
  }

  private async moveIntoPlace(file: string, digest: string): Promise<void> {
    const target = this.blobPath(digest)!;
    await mkdir(path.dirname(target), { recursive: true });
    // rename replaces an existing blob of the same digest, whose bytes are the same.
    await rename(file, target);
    // A blob is new when it is stored, however long its upload took: the garbage
    // collector's grace window counts from now, not from the upload's last chunk.
    const now = new Date();
    await utimes(target, now, now);
  }

  private serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.uploadLocks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.uploadLocks.set(id, settled);
    void settled.then(() => {
      if (this.uploadLocks.get(id) === settled) this.uploadLocks.delete(id);
    });
    return next;
  }
}

/**
 * Streams `source` into the file through `counter`, which copies what it receives into
 * one reused buffer and writes it out when full: a chunk from the socket is released as
 * soon as it is copied, instead of waiting for its own write, so that none lives long
 * enough to cost the garbage collector more than a young-generation sweep. The file is
 * opened by the sink itself, so that the pipeline handles `source`'s errors from the start.
 */
function writeFile(file: string, flags: 'w' | 'a', source: Readable, counter: HashingCounter): Promise<void> {
  return pipeline(source, counter.into(file, flags));
}

/** Counts and hashes what passes; stops the stream past `maxBytes`. */
class HashingCounter extends Transform {
  size = 0;

  constructor(
    readonly hash: Hash = createHash('sha256'),
    readonly maxBytes?: number,
  ) {
    super({ highWaterMark: WRITE_BUFFER });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.maxBytes !== undefined && this.size > this.maxBytes) return done(new BlobTooLargeError(this.maxBytes));
    this.hash.update(chunk);
    done(null, chunk);
  }

  /**
   * A sink that hashes and counts like this transform and writes into `file` (opened with
   * `flags` before the first write, closed when the sink is done or destroyed) in
   * WRITE_BUFFER pieces.
   */
  into(file: string, flags: 'w' | 'a'): Writable {
    const counter = this;
    const buffer = Buffer.allocUnsafeSlow(WRITE_BUFFER);
    let filled = 0;
    let handle: FileHandle | undefined;
    const flush = async () => {
      let written = 0;
      while (written < filled) written += (await handle!.write(buffer, written, filled - written)).bytesWritten;
      filled = 0;
    };
    return new Writable({
      highWaterMark: WRITE_BUFFER,
      construct(done) {
        open(file, flags).then((opened) => {
          handle = opened;
          done();
        }, done);
      },
      write(chunk: Buffer, _encoding, done) {
        counter.size += chunk.length;
        if (counter.maxBytes !== undefined && counter.size > counter.maxBytes) return done(new BlobTooLargeError(counter.maxBytes));
        counter.hash.update(chunk);
        let offset = chunk.copy(buffer, filled);
        filled += offset;
        if (filled < buffer.length) return done();
        void (async () => {
          while (filled === buffer.length) {
            await flush();
            const copied = chunk.copy(buffer, filled, offset);
            filled += copied;
            offset += copied;
          }
        })().then(() => done(), done);
      },
      final(done) {
        flush().then(() => done(), done);
      },
      destroy(error, done) {
        if (!handle) return done(error);
        handle.close().then(
          () => done(error),
          (closing: Error) => done(error ?? closing),
        );
      },
    });
  }
}
