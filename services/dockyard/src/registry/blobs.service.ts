import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { BLOB_STORE, type BlobStore, type ByteRange } from '../storage/blob-store';
import { BlobTooLargeError, ChunkLengthError, DigestMismatchError, UnknownUploadError, UploadOffsetError } from '../storage/storage-errors';
import type { Workspace } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import { RegistryMetadata } from './registry-metadata';
import { RegistryQuota } from './registry-quota';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Blobs of repositories and the uploads that make them. Bytes go through the
 * BlobStore (streamed, hashed on the way); an upload's row says which repository it
 * belongs to, so that it resumes by its id after a restart.
 */
@Injectable()
export class BlobsService {
  constructor(
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly metadata: RegistryMetadata,
    private readonly quota: RegistryQuota,
  ) {}

  /** The size of a blob the repository may serve, or undefined. */
  async stat(repository: string, digest: string): Promise<number | undefined> {
    const linked = await this.metadata.linkedSize(repository, digest);
    if (linked === undefined) return undefined;
    const stored = await this.store.stat(digest);
    return stored?.size;
  }

  open(digest: string, range?: ByteRange): Promise<Readable | undefined> {
    return this.store.open(digest, range);
  }

  /**
   * Sends the blob (or the range) as the body of `destination` and ends it; false when
   * it is not stored, before anything is sent. A store that can copy into a response
   * itself (the filesystem's, with reused buffers) does; any other is piped. A client
   * that goes away mid-download ends the copy quietly.
   */
  async copyTo(digest: string, destination: Writable, range?: ByteRange): Promise<boolean> {
    if (this.store.copyTo) return this.store.copyTo(digest, destination, range);
    const content = await this.store.open(digest, range);
    if (!content) return false;
    await pipeline(content, destination).catch(() => content.destroy());
    return true;
  }

  /** Marks a blob as used now, so that garbage collection's grace window protects it. */
  touch(digest: string): Promise<boolean> {
    return this.store.touch(digest);
  }

  async unlink(repository: string, digest: string): Promise<boolean> {
    return this.metadata.unlinkBlob(repository, digest);
  }

  /** Links a blob of `from` to `repository` when it is there; false otherwise. */
  async mount(repository: string, digest: string, from: string): Promise<number | undefined> {
    const size = await this.stat(from, digest);
    if (size === undefined) return undefined;
    await this.store.touch(digest);
    const workspace = await this.metadata.workspaceFor(repository);
    if (!(await this.metadata.heldByOrg(workspace.org, digest))) await this.quota.check(workspace, size);
    await this.metadata.linkBlob(this.metadata.db, repository, workspace, digest, size);
    return size;
  }

  /** A monolithic upload in one POST with `?digest=`. */
  async putWhole(repository: string, digest: string, source: Readable, length: number | undefined): Promise<number> {
    const workspace = await this.metadata.workspaceFor(repository);
    const remaining = await this.quota.check(workspace, length ?? 0);
    try {
      const stored = await this.store.put(source, { expectedDigest: digest, maxBytes: remaining });
      await this.metadata.linkBlob(this.metadata.db, repository, workspace, stored.digest, stored.size);
      return stored.size;
    } catch (error) {
      throw this.translate(error, workspace);
    }
  }

  async startUpload(repository: string): Promise<string> {
    const workspace = await this.metadata.workspaceFor(repository);
    await this.quota.check(workspace, 0);
    const id = randomUUID();
    await this.store.startUpload(id);
    const now = this.metadata.time();
    await this.metadata.db.query('INSERT INTO dockyard_uploads (id, repository, size, started_at, updated_at) VALUES (?, ?, 0, ?, ?)', [
      id,
      repository,
      now,
      now,
    ]);
    return id;
  }

  /** Bytes received so far by an upload of the repository; BLOB_UPLOAD_UNKNOWN otherwise. */
  async uploadSize(repository: string, id: string): Promise<number> {
    const known = UPLOAD_ID.test(id)
      ? await this.metadata.db.query<unknown[]>('SELECT 1 FROM dockyard_uploads WHERE id = ? AND repository = ?', [id, repository])
      : [];
    const size = known.length ? await this.store.uploadSize(id) : undefined;
    if (size === undefined) throw this.unknownUpload(id);
    return size;
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must be where the upload stands,
   * else 416; without it the chunk follows what is there.
   */
  async append(repository: string, id: string, source: Readable, chunk: { start?: number; length?: number }): Promise<number> {
    // Independent lookups, made at the same time: the client's bytes wait for them.
    const [size, workspace] = await inOrder(this.uploadSize(repository, id), this.metadata.workspaceFor(repository));
    if (chunk.start !== undefined && chunk.start !== size) throw this.outOfOrder(id, size, chunk.start);
    const remaining = await this.quota.check(workspace, size + (chunk.length ?? 0));
    let total: number;
    try {
      total = await this.store.appendUpload(id, source, { offset: size, maxBytes: remaining === undefined ? undefined : remaining, length: chunk.length });
    } catch (error) {
      if (error instanceof ChunkLengthError) {
        throw new OciError('BLOB_UPLOAD_INVALID', `${error.message}: nothing of the chunk was kept; send it again with a Content-Range that matches its length`, {
          announced: error.announced,
          size,
        });
      }
      throw this.translate(error, workspace, id, size);
    }
    await this.metadata.db.query('UPDATE dockyard_uploads SET size = ?, updated_at = ? WHERE id = ?', [total, this.metadata.time(), id]);
    return total;
  }

  /** Makes the upload a blob of the repository after verifying its digest (nothing is kept on a mismatch). */
  async complete(repository: string, id: string, digest: string): Promise<number> {
    const [, workspace] = await inOrder(this.uploadSize(repository, id), this.metadata.workspaceFor(repository));
    let stored: { digest: string; size: number };
    try {
      stored = await this.store.completeUpload(id, digest);
    } catch (error) {
      if (error instanceof DigestMismatchError) await this.metadata.db.query('DELETE FROM dockyard_uploads WHERE id = ?', [id]);
      throw this.translate(error, workspace, id);
    }
    // The upload is a blob now: its row goes whatever happens next; when the blob fits
    // the quota, in the same transaction as the blob's links (one commit, not four).
    try {
      if (!(await this.metadata.heldByOrg(workspace.org, stored.digest))) await this.quota.check(workspace, stored.size);
      await this.metadata.db.transaction(async (manager) => {
        await manager.query('DELETE FROM dockyard_uploads WHERE id = ?', [id]);
        await this.metadata.linkBlob(manager, repository, workspace, stored.digest, stored.size);
      });
    } catch (error) {
      await this.metadata.db.query('DELETE FROM dockyard_uploads WHERE id = ?', [id]);
      throw this.translate(error, workspace, id);
    }
    return stored.size;
  }

  async cancel(repository: string, id: string): Promise<void> {
    await this.uploadSize(repository, id);
    await this.store.abortUpload(id);
    await this.metadata.db.query('DELETE FROM dockyard_uploads WHERE id = ?', [id]);
  }

  private unknownUpload(id: string): OciError {
    return new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 64)} is unknown to this repository: it was completed, cancelled or never started`, {
      uuid: id.slice(0, 64),
    });
  }

  private outOfOrder(id: string, size: number, start: number): OciError {
    return new OciError(
      'BLOB_UPLOAD_INVALID',
      `the chunk starts at byte ${start} but the upload holds ${size} bytes: send the chunk that starts at ${size}`,
      { uuid: id, size, start },
      416,
      { Range: rangeHeader(size), 'Docker-Upload-UUID': id },
    );
  }

  private translate(error: unknown, workspace: Workspace, id?: string, size?: number): unknown {
    if (error instanceof DigestMismatchError) {
      return new OciError('DIGEST_INVALID', `the content's digest is ${error.actual}, not ${error.expected}: nothing was stored`, {
        expected: error.expected,
        actual: error.actual,
      });
    }
    if (error instanceof BlobTooLargeError) {
      return new OciError('DENIED', `the registry quota of ${workspace.org}/${workspace.project} would be exceeded by this upload; delete images or ask an administrator to raise the quota`, {
        remaining: error.limit,
      });
    }
    if (error instanceof UploadOffsetError && id) return this.outOfOrder(id, error.expected, size ?? error.given);
    if (error instanceof UnknownUploadError && id) return this.unknownUpload(id);
    return error;
  }
}

/** The `Range` header of an upload: `0-<last byte>` (`0-0` while empty, as distribution answers). */
export function rangeHeader(size: number): string {
  return `0-${Math.max(size - 1, 0)}`;
}

/**
 * Both results of lookups made at the same time; when both fail, the first one's error
 * (as if they had been made one after the other).
 */
async function inOrder<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}
