import type { Readable, Writable } from 'node:stream';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** A byte range, both ends included (as HTTP `Range: bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  /** When given, content with another digest is refused (DigestMismatchError) and nothing is stored. */
  expectedDigest?: string;
  /** Content longer than this is refused (BlobTooLargeError) and nothing is stored. */
  maxBytes?: number;
}

/**
 * Content-addressed storage of blobs and of the uploads that become blobs. The
 * filesystem driver is the default; object stores (S3) implement the same port.
 * Content is streamed, never held whole in memory; a blob becomes visible at once and
 * complete (written aside, then moved into place), or not at all.
 */
export interface BlobStore {
  /** Stores a stream under its digest (sha256 unless `expectedDigest` names sha512). */
  put(source: Readable, options?: PutOptions): Promise<BlobInfo>;
  stat(digest: string): Promise<BlobInfo | undefined>;
  /** The blob's bytes, or the range of them; undefined when the blob is not stored. */
  open(digest: string, range?: ByteRange): Promise<Readable | undefined>;
  delete(digest: string): Promise<boolean>;
  /**
   * Marks the blob as used now (its modification time), so that garbage collection's
   * grace window protects a blob a push has just found already stored. False when missing.
   */
  touch(digest: string): Promise<boolean>;
  /**
   * Optional fast path for downloads: writes the blob (or the range) to `destination`
   * with the store's own buffers; false when the blob is not stored. Stores without it
   * are read through `open`.
   */
  copyTo?(digest: string, destination: Writable, range?: ByteRange): Promise<boolean>;
  /** Every stored blob with the time it was last written, for garbage collection. */
  list(): AsyncIterable<BlobInfo & { modifiedAt: Date }>;

  /** Opens an empty upload; the id is the caller's (a UUID). */
  startUpload(id: string): Promise<void>;
  /**
   * Appends a chunk that must start at the upload's current size (UploadOffsetError
   * otherwise) and returns the new size. Appends to one upload are serialized.
   */
  appendUpload(id: string, source: Readable, options: { offset: number; maxBytes?: number; length?: number }): Promise<number>;
  /** The bytes received so far; undefined for an unknown upload. */
  uploadSize(id: string): Promise<number | undefined>;
  /**
   * Verifies the upload against `expectedDigest` and makes it a blob. On a mismatch the
   * upload is discarded and DigestMismatchError thrown: nothing is stored.
   */
  completeUpload(id: string, expectedDigest: string): Promise<BlobInfo>;
  abortUpload(id: string): Promise<void>;
  /** Uploads present in storage, for garbage collection of abandoned ones. */
  listUploads(): AsyncIterable<{ id: string; size: number; modifiedAt: Date }>;
}

/** Nest injection token of the service's BlobStore. */
export const BLOB_STORE = Symbol('BLOB_STORE');
