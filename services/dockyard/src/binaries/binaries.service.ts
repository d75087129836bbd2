import { RegistryQuota } from '../registry/registry-quota';
import { quotaCut, storageRoom } from '../registry/storage-room';
import type { Readable } from 'node:stream';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, InvalidInputError, NotFoundError } from '@co/common';
import { sqlTime } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { BlobTooLargeError, DigestMismatchError } from '../storage/storage-errors';
import type { Workspace } from '../workspaces/workspaces.service';
import { artifactStream, type ArtifactDeleted, type ArtifactUploaded } from './binary.events';

export interface BinaryAddress {
  workspace: string;
  repository: string;
  tag: string;
  file: string;
}

export interface BinaryFile {
  file: string;
  digest: string;
  size: number;
  downloads: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

interface BinaryRow {
  file: string;
  digest: string;
  size: number | string;
  downloads: number | string;
  created_by: string;
  created_at: Date | string;
  updated_at: Date | string;
}

/** Most files listed under one tag. */
const MAX_LISTED = 1000;

export function binaryNotFound(address: BinaryAddress): NotFoundError {
  return new NotFoundError('BINARY.NOT_FOUND', `No file ${address.file} under ${address.workspace}/${address.repository}:${address.tag}.`);
}

/**
 * Binary artifacts (ContainerOps' binary V1): files kept under a workspace, a
 * repository and a tag. The bytes are streamed into the BlobStore (verified against a
 * digest when the client names one); storing a file again under the same address
 * replaces it.
 */
@Injectable()
export class BinariesService {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly quota: RegistryQuota,
  ) {}

  async upload(workspace: Workspace, address: BinaryAddress, source: Readable, expectedDigest: string | undefined, actor: string): Promise<ArtifactUploaded> {
    const room = await storageRoom(this.quota, workspace);
    let blob;
    try {
      blob = await this.blobs.put(source, { maxBytes: room === undefined ? this.settings.maxBinaryBytes : Math.min(room, this.settings.maxBinaryBytes), expectedDigest });
    } catch (error) {
      if (error instanceof DigestMismatchError) {
        throw new InvalidInputError('BINARY.DIGEST_MISMATCH', `The file's digest is ${error.actual}, not ${error.expected} as the request says; nothing was stored.`);
      }
      if (error instanceof BlobTooLargeError && room !== undefined && room < this.settings.maxBinaryBytes) throw quotaCut(workspace, room);
      if (error instanceof BlobTooLargeError) {
        throw new DomainError('BINARY.TOO_LARGE', `The file is larger than ${this.settings.maxBinaryBytes} bytes, the most accepted; nothing was stored.`, 413, GrpcStatus.RESOURCE_EXHAUSTED);
      }
      throw error;
    }
    const now = sqlTime(this.runtime.db, new Date());
    const key = [address.workspace, address.repository, address.tag, address.file];
    const overwritten = await this.runtime.db.transaction(async (manager) => {
      const existing = (await manager.query('SELECT digest FROM dockyard_binaries WHERE workspace = ? AND repository = ? AND tag = ? AND file = ?', key)) as unknown[];
      if (existing.length) {
        await manager.query(
          'UPDATE dockyard_binaries SET digest = ?, size = ?, created_by = ?, updated_at = ? WHERE workspace = ? AND repository = ? AND tag = ? AND file = ?',
          [blob.digest, blob.size, actor, now, ...key],
        );
        return true;
      }
      try {
        await manager.query(
          'INSERT INTO dockyard_binaries (workspace, repository, tag, file, org, project, digest, size, downloads, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)',
          [...key, workspace.org, workspace.project, blob.digest, blob.size, actor, now, now],
        );
      } catch (error) {
        // Two uploads to one address at once: the later one replaces the first, as a later upload would.
        if (!isDuplicate(error)) throw error;
        await manager.query(
          'UPDATE dockyard_binaries SET digest = ?, size = ?, created_by = ?, updated_at = ? WHERE workspace = ? AND repository = ? AND tag = ? AND file = ?',
          [blob.digest, blob.size, actor, now, ...key],
        );
        return true;
      }
      return false;
    });
    const event: ArtifactUploaded = {
      workspace: workspace.name,
      org: workspace.org,
      project: workspace.project,
      repository: address.repository,
      tag: address.tag,
      file: address.file,
      digest: blob.digest,
      size: blob.size,
      overwritten,
      uploadedBy: actor,
    };
    await this.runtime.store.append(artifactStream(workspace.name), 'any', [{ type: 'ArtifactUploaded', data: event }], { actor, tenant: workspace.org });
    return event;
  }

  async find(address: BinaryAddress): Promise<BinaryFile | undefined> {
    const [row] = await this.runtime.db.query<BinaryRow[]>(
      'SELECT file, digest, size, downloads, created_by, created_at, updated_at FROM dockyard_binaries WHERE workspace = ? AND repository = ? AND tag = ? AND file = ?',
      [address.workspace, address.repository, address.tag, address.file],
    );
    return row ? toFile(row) : undefined;
  }

  async list(workspace: string, repository: string, tag: string): Promise<BinaryFile[]> {
    const rows = await this.runtime.db.query<BinaryRow[]>(
      `SELECT file, digest, size, downloads, created_by, created_at, updated_at FROM dockyard_binaries WHERE workspace = ? AND repository = ? AND tag = ? ORDER BY file LIMIT ${MAX_LISTED}`,
      [workspace, repository, tag],
    );
    return rows.map(toFile);
  }

  async countDownload(address: BinaryAddress): Promise<void> {
    await this.runtime.db.query('UPDATE dockyard_binaries SET downloads = downloads + 1 WHERE workspace = ? AND repository = ? AND tag = ? AND file = ?', [
      address.workspace,
      address.repository,
      address.tag,
      address.file,
    ]);
  }

  async delete(workspace: Workspace, address: BinaryAddress, actor: string): Promise<ArtifactDeleted> {
    const found = await this.find(address);
    if (!found) throw binaryNotFound(address);
    await this.runtime.db.query('DELETE FROM dockyard_binaries WHERE workspace = ? AND repository = ? AND tag = ? AND file = ? AND digest = ?', [
      address.workspace,
      address.repository,
      address.tag,
      address.file,
      found.digest,
    ]);
    const event: ArtifactDeleted = {
      workspace: workspace.name,
      org: workspace.org,
      project: workspace.project,
      repository: address.repository,
      tag: address.tag,
      file: address.file,
      digest: found.digest,
      deletedBy: actor,
    };
    await this.runtime.store.append(artifactStream(workspace.name), 'any', [{ type: 'ArtifactDeleted', data: event }], { actor, tenant: workspace.org });
    return event;
  }
}

function toFile(row: BinaryRow): BinaryFile {
  return {
    file: row.file,
    digest: row.digest,
    size: Number(row.size),
    downloads: Number(row.downloads),
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function isDuplicate(error: unknown): boolean {
  const driver = error as { code?: string; driverError?: { code?: string } };
  const code = driver.driverError?.code ?? driver.code ?? '';
  return code === 'ER_DUP_ENTRY' || code.startsWith('SQLITE_CONSTRAINT');
}
