import * as path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { DomainError } from '@co/common';
import type { BlobStore } from '../storage/blob-store';
import { parseDigest } from '../storage/digest';
import { DigestMismatchError } from '../storage/storage-errors';
import { ImportErrorCodes, importInvalid, ImportTooLargeError } from './import-errors';

/** Limits that keep a hostile archive from costing more than a fair one. */
export interface ArchiveLimits {
  /** Bytes of the archive as sent (compressed or not). */
  maxBytes: number;
  /** Bytes of the tar once gunzipped: a small `.tar.gz` must not unpack into an unbounded amount. */
  maxUnpackedBytes: number;
  maxEntries: number;
  /** `manifest.json`, `index.json`, `repositories`, `oci-layout`. */
  maxDocumentBytes: number;
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** A file of the archive stored in the BlobStore. */
export interface StoredFile {
  digest: string;
  size: number;
  /** What the first bytes say; a docker-archive layer is normally an uncompressed tar. */
  compression: LayerCompression;
}

/** What an image archive held: its small JSON documents, and every other file stored as a blob. */
export interface ArchiveContents {
  documents: Map<string, Buffer>;
  files: Map<string, StoredFile>;
  /** Symbolic and hard links, by their name, to the (normalized) name they point to. */
  links: Map<string, string>;
  entries: number;
}

/** The documents of docker-archive and OCI layout archives: kept in memory, never stored as blobs. */
const DOCUMENTS = new Set(['manifest.json', 'index.json', 'oci-layout', 'repositories']);
/** Legacy per-layer metadata of `docker save` (`<id>/json`, `<id>/VERSION`): not needed to rebuild the image. */
const LEGACY_METADATA = /^[^/]+\/(?:json|VERSION)$/;
/** An entry of tar-stream's extract (a streamx stream): its header and its bytes. */
type TarEntry = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Reads a `docker save` (docker-archive) or OCI image layout archive, `.tar` or
 * `.tar.gz` (told apart by the gzip magic bytes), in one pass: each file entry streams
 * into the BlobStore (hashed on the way, an OCI `blobs/<alg>/<hex>` entry verified
 * against its name), the few JSON documents are kept in memory. Nothing is written
 * outside the BlobStore, so entry names are only keys; still, absolute names and `..`
 * are refused, as is any link that points out of the archive.
 */
export async function readImageArchive(source: Readable, store: BlobStore, limits: ArchiveLimits): Promise<ArchiveContents> {
  const counted = new ByteLimit(limits.maxBytes, () => new ImportTooLargeError(limits.maxBytes, 'archive'));
  source.once('error', (error) => counted.destroy(error));
  source.once('close', () => {
    if (!source.readableEnded) counted.destroy(importInvalid(ImportErrorCodes.ARCHIVE_INVALID, 'The upload was cut short before the archive ended.'));
  });
  const { head, rest } = await peek(source.pipe(counted), 4);
  if (head.length === 0) throw importInvalid(ImportErrorCodes.ARCHIVE_INVALID, 'The body is empty: send a docker save or OCI image archive (.tar or .tar.gz).');
  const gzipped = head.subarray(0, 2).equals(GZIP_MAGIC);
  const unpackedLimit = new ByteLimit(limits.maxUnpackedBytes, () => new ImportTooLargeError(limits.maxUnpackedBytes, 'unpacked archive'));
  const extract = tar.extract();
  const stages: NodeJS.ReadWriteStream[] = gzipped ? [createGunzip(), unpackedLimit] : [unpackedLimit];
  const feeding = pipeline([rest, ...stages, extract] as unknown as Parameters<typeof pipeline>[0][]).catch((error: unknown) => error);

  const contents: ArchiveContents = { documents: new Map(), files: new Map(), links: new Map(), entries: 0 };
  try {
    for await (const entry of extract) {
      contents.entries += 1;
      if (contents.entries > limits.maxEntries) {
        throw importInvalid(ImportErrorCodes.TOO_MANY_ENTRIES, `The archive has more than ${limits.maxEntries} entries; an image archive needs far fewer.`, {
          limit: limits.maxEntries,
        });
      }
      await readEntry(entry as unknown as TarEntry, store, limits, contents);
    }
  } catch (error) {
    // The request itself is left to the caller, who may read the rest so that the answer reaches the client.
    source.unpipe(counted);
    counted.destroy();
    extract.destroy();
    const fed = await feeding;
    // A limit crossed upstream surfaces here as the entry's premature end: report the limit.
    throw translate(error instanceof DomainError || !(fed instanceof DomainError) ? error : fed, gzipped);
  }
  const failed = await feeding;
  if (failed) throw translate(failed, gzipped);
  return contents;
}

async function readEntry(entry: TarEntry, store: BlobStore, limits: ArchiveLimits, contents: ArchiveContents): Promise<void> {
  const header = entry.header;
  const name = safeName(header.name);
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      break;
    case 'symlink':
    case 'link': {
      const target = header.linkname ?? '';
      // A symbolic link is relative to its own folder, a hard link to the archive's root.
      const base = header.type === 'symlink' ? path.posix.dirname(name) : '.';
      if (target.startsWith('/')) throw unsafe(header.name, `links to the absolute path ${printable(target)}`);
      const resolved = path.posix.normalize(path.posix.join(base, target));
      if (resolved === '..' || resolved.startsWith('../')) throw unsafe(header.name, `links to ${printable(target)}, outside the archive`);
      if (name) contents.links.set(name, resolved);
      entry.resume();
      return;
    }
    default:
      // Folders, devices and FIFOs carry nothing an image needs.
      entry.resume();
      return;
  }
  if (!name) throw unsafe(header.name, 'has no file name');
  if (DOCUMENTS.has(name)) {
    contents.documents.set(name, await readDocument(entry, name, limits.maxDocumentBytes));
    return;
  }
  if (LEGACY_METADATA.test(name)) {
    entry.resume();
    return;
  }
  const named = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
  const expectedDigest = named && parseDigest(`${named[1]}:${named[2]}`) ? `${named[1]}:${named[2]}` : undefined;
  const sniffer = new MagicSniffer();
  let stored;
  try {
    stored = await store.put(Readable.from(sniffer.watch(entry), { objectMode: false }), expectedDigest ? { expectedDigest } : {});
  } catch (error) {
    if (error instanceof DigestMismatchError) {
      throw importInvalid(ImportErrorCodes.DIGEST_MISMATCH, `The archive's ${printable(name)} has the digest ${error.actual}, not the one its name says: the archive is corrupt.`, {
        entry: printable(name),
        actual: error.actual,
      });
    }
    throw error;
  }
  contents.files.set(name, { digest: stored.digest, size: stored.size, compression: sniffer.compression() });
}

async function readDocument(entry: TarEntry, name: string, limit: number): Promise<Buffer> {
  if ((entry.header.size ?? 0) > limit) {
    entry.resume();
    throw importInvalid(ImportErrorCodes.MANIFEST_TOO_LARGE, `The archive's ${name} is ${entry.header.size} bytes; at most ${limit} are accepted.`, { limit });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw importInvalid(ImportErrorCodes.MANIFEST_TOO_LARGE, `The archive's ${name} is over ${limit} bytes.`, { limit });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The entry's name without `./` and trailing slashes; an absolute name or one with `..` is refused. */
export function safeName(raw: string): string {
  if (raw.includes('\0')) throw unsafe(raw, 'holds a NUL character');
  if (raw.startsWith('/')) throw unsafe(raw, 'is an absolute path');
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw unsafe(raw, 'climbs out of the archive with ".."');
  return parts.join('/');
}

/** Follows links (at most a few hops) to the stored file a name stands for. */
export function resolveFile(contents: ArchiveContents, name: string): StoredFile | undefined {
  let current = safeName(name);
  for (let hop = 0; hop < 8; hop += 1) {
    const file = contents.files.get(current);
    if (file) return file;
    const next = contents.links.get(current);
    if (next === undefined) return undefined;
    current = next;
  }
  return undefined;
}

function unsafe(name: string, why: string) {
  return importInvalid(ImportErrorCodes.ARCHIVE_UNSAFE, `The archive entry ${JSON.stringify(printable(name))} ${why}; such archives are refused.`, {
    entry: printable(name),
  });
}

/** A broken tar or gzip stream is the sender's mistake: a 400 that says so. */
function translate(error: unknown, gzipped: boolean): unknown {
  if (error instanceof DomainError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const fromZlib = typeof code === 'string' && code.startsWith('Z_');
  if (fromZlib || /tar header|unexpected end|invalid/i.test(error.message)) {
    return importInvalid(
      ImportErrorCodes.ARCHIVE_INVALID,
      `The body is not a readable ${gzipped ? '.tar.gz' : '.tar'} archive (${error.message}); send the output of docker save, podman save or an OCI image layout as .tar or .tar.gz.`,
    );
  }
  return error;
}

function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** Reads the first `size` bytes of a stream and gives back a stream of all of it. */
async function peek(source: Readable, size: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < size) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const rest = Readable.from(replay(), { objectMode: false });
  rest.once('close', () => {
    if (!rest.readableEnded) void iterator.return?.();
  });
  return { head, rest };
}

/** Passes bytes through and fails past `limit`. */
class ByteLimit extends Transform {
  private size = 0;

  constructor(
    private readonly limit: number,
    private readonly error: () => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) return done(this.error());
    done(null, chunk);
  }
}

/** Keeps the first bytes that pass, to tell a compressed layer from a plain tar. */
class MagicSniffer {
  private head = Buffer.alloc(0);

  async *watch(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      if (this.head.length < 4) this.head = Buffer.concat([this.head, chunk.subarray(0, 4 - this.head.length)]);
      yield chunk;
    }
  }

  compression(): LayerCompression {
    if (this.head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
    if (this.head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
    return 'none';
  }
}
