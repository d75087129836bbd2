import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { isDigest, parseDigest } from '../storage/digest';
import { DigestMismatchError } from '../storage/storage-errors';
import { imageStream, type ImageDeleted, type ImagePushed } from './image.events';
import { parseReference, printable, type Reference } from './names';
import { OciError } from './oci-errors';
import { RegistryMetadata } from './registry-metadata';
import { RegistryQuota } from './registry-quota';
import { upsert } from './registry-sql';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const IMAGE_TYPES: string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociArtifact];
const INDEX_TYPES: string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];

/** Layers that clients fetch from their `urls`, not from the registry: they need not be pushed. */
/** The longest manifest Content-Type kept (it is stored and returned exactly). */
const MAX_MEDIA_TYPE_LENGTH = 191;

function isForeignLayer(descriptor: Descriptor): boolean {
  return (
    Array.isArray(descriptor.urls) &&
    descriptor.urls.length > 0 &&
    (descriptor.mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
      descriptor.mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.'))
  );
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: unknown[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Who is pushing or deleting: a name for events and records, the organization's audit trail takes it from there. */
export interface ImageActor {
  name: string;
  /** `user:<id>` when known, for event metadata. */
  id?: string;
}

export interface StoredManifest {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  subject: string | null;
  tag: string | null;
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number | string;
}

/** What a parsed manifest references. */
interface ManifestShape {
  kind: 'image' | 'index';
  bodyMediaType?: string;
  blobs: Descriptor[];
  children: Descriptor[];
  artifactType: string | null;
  configMediaType: string | null;
  subject: string | null;
  annotations: Record<string, string> | null;
}

/**
 * Stores and serves manifests: the one path for a manifest PUT on /v2 and for image
 * imports (`putManifest`, `linkBlob`). A manifest's bytes are kept as pushed in the
 * BlobStore under their digest, its metadata and references in the tables, and an
 * `ImagePushed` event is appended once both are there.
 */
@Injectable()
export class ManifestService {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly metadata: RegistryMetadata,
    private readonly quota: RegistryQuota,
  ) {}

  /**
   * Links a blob already in the BlobStore to a repository (creating the repository).
   * NAME_UNKNOWN when the workspace does not exist, BLOB_UNKNOWN when the blob is not stored.
   */
  async linkBlob(repository: string, digest: string, size: number): Promise<void> {
    const workspace = await this.metadata.workspaceFor(repository);
    const stored = await this.blobs.stat(digest);
    if (!stored || stored.size !== size) {
      throw new OciError('BLOB_UNKNOWN', `blob ${digest} of ${size} bytes is not stored`, { digest });
    }
    await this.metadata.linkBlob(this.runtime.db, repository, workspace, digest, size);
  }

  /** Validates, stores and tags a manifest; the PUT /v2/<name>/manifests/<reference> of the spec. */
  async putManifest(repository: string, reference: string, bytes: Buffer, contentType: string | undefined, actor: ImageActor): Promise<StoredManifest> {
    if (bytes.length > this.settings.maxManifestBytes) throw this.tooLarge(bytes.length);
    const ref = parseReference(reference);
    const shape = this.parse(bytes, contentType);
    const mediaType = contentType?.trim() || shape.bodyMediaType!;
    if (mediaType.length > MAX_MEDIA_TYPE_LENGTH) {
      throw new OciError('MANIFEST_INVALID', `the Content-Type is ${mediaType.length} characters long; at most ${MAX_MEDIA_TYPE_LENGTH} are kept`, {});
    }
    const algorithm = ref.kind === 'digest' ? parseDigest(ref.digest)!.algorithm : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new OciError('DIGEST_INVALID', `the manifest's digest is ${digest}, not ${ref.digest} as the URL says`, { expected: ref.digest, actual: digest });
    }
    const workspace = await this.metadata.workspaceFor(repository);

    // The blobs named are in use from now on: the garbage collector's grace window restarts.
    for (const descriptor of shape.blobs) if (!isForeignLayer(descriptor)) await this.blobs.touch(descriptor.digest);
    const blobSizes = await this.metadata.linkedSizes(
      repository,
      shape.blobs.filter((descriptor) => !isForeignLayer(descriptor)).map((descriptor) => descriptor.digest),
    );
    for (const descriptor of shape.blobs) {
      if (isForeignLayer(descriptor)) continue;
      const size = blobSizes.get(descriptor.digest);
      if (size === undefined) {
        throw new OciError('MANIFEST_BLOB_UNKNOWN', `blob ${descriptor.digest} referenced by the manifest is not in repository ${repository}: push it first`, {
          digest: descriptor.digest,
        });
      }
      if (size !== descriptor.size) {
        throw new OciError('MANIFEST_INVALID', `the manifest gives blob ${descriptor.digest} a size of ${descriptor.size} bytes; it has ${size}`, {
          digest: descriptor.digest,
          size,
        });
      }
    }
    let childrenSize = 0;
    for (const child of shape.children) {
      const [row] = await this.runtime.db.query<{ total_size: number | string }[]>(
        'SELECT total_size FROM dockyard_manifests WHERE repository = ? AND digest = ?',
        [repository, child.digest],
      );
      if (!row) {
        throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest} listed in the index is not in repository ${repository}: push it first`, {
          digest: child.digest,
        });
      }
      childrenSize += Number(row.total_size);
    }
    if (!(await this.metadata.heldByOrg(workspace.org, digest))) await this.quota.check(workspace, bytes.length);

    try {
      await this.blobs.put(Readable.from([bytes]), { expectedDigest: digest });
    } catch (error) {
      if (error instanceof DigestMismatchError) throw new OciError('DIGEST_INVALID', error.message, { digest });
      throw error;
    }
    const totalSize = bytes.length + (shape.kind === 'index' ? childrenSize : shape.blobs.reduce((sum, descriptor) => sum + descriptor.size, 0));
    const artifactType = shape.artifactType ?? (shape.kind === 'image' ? shape.configMediaType : null);
    const dialect = this.runtime.db.dialect;
    const named = [...new Set(shape.blobs.filter((descriptor) => !isForeignLayer(descriptor)).map((descriptor) => descriptor.digest))];
    await this.runtime.db.transaction(async (manager) => {
      // Read the blobs' links again with a locking read: a garbage collection that removes
      // one either committed before (the link is gone: the client pushes the blob again)
      // or waits for this transaction and then sees the reference.
      if (named.length) {
        const lock = dialect === 'mysql' ? ' LOCK IN SHARE MODE' : '';
        const linked = await manager.query<{ digest: string }[]>(
          `SELECT digest FROM dockyard_repository_blobs WHERE repository = ? AND digest IN (${named.map(() => '?').join(', ')})${lock}`,
          [repository, ...named],
        );
        const present = new Set(linked.map((row) => row.digest));
        const missing = named.find((blob) => !present.has(blob));
        if (missing) {
          throw new OciError('MANIFEST_BLOB_UNKNOWN', `blob ${missing} referenced by the manifest is not in repository ${repository}: push it first`, { digest: missing });
        }
      }
      const now = this.metadata.time();
      await this.metadata.linkBlob(manager, repository, workspace, digest, bytes.length);
      await upsert(
        manager,
        dialect,
        'dockyard_manifests',
        {
          repository,
          digest,
          media_type: mediaType,
          artifact_type: shape.artifactType,
          config_media_type: shape.configMediaType,
          subject_digest: shape.subject,
          annotations: shape.annotations ? JSON.stringify(shape.annotations) : null,
          size: bytes.length,
          total_size: totalSize,
          pulls: 0,
          created_at: now,
        },
        ['repository', 'digest'],
        ['media_type'],
      );
      for (const descriptor of shape.blobs) {
        if (isForeignLayer(descriptor)) continue;
        await upsert(manager, dialect, 'dockyard_manifest_blobs', { repository, manifest_digest: digest, blob_digest: descriptor.digest }, [
          'repository',
          'manifest_digest',
          'blob_digest',
        ]);
      }
      for (const child of shape.children) {
        await upsert(manager, dialect, 'dockyard_manifest_children', { repository, manifest_digest: digest, child_digest: child.digest }, [
          'repository',
          'manifest_digest',
          'child_digest',
        ]);
      }
      if (ref.kind === 'tag') {
        await upsert(
          manager,
          dialect,
          'dockyard_tags',
          { repository, tag: ref.tag, digest, pulls: 0, created_at: now, updated_at: now },
          ['repository', 'tag'],
          ['digest', 'updated_at'],
        );
      }
    });
    const event: ImagePushed = {
      repository,
      workspace: workspace.name,
      org: workspace.org,
      project: workspace.project,
      tag: ref.kind === 'tag' ? ref.tag : null,
      digest,
      mediaType,
      artifactType,
      size: bytes.length,
      totalSize,
      subject: shape.subject,
      pushedBy: actor.name,
    };
    await this.runtime.store.append(imageStream(repository), 'any', [{ type: 'ImagePushed', data: event }], {
      actor: actor.id ?? actor.name,
      tenant: workspace.org,
    });
    return { repository, digest, mediaType, size: bytes.length, subject: shape.subject, tag: event.tag };
  }

  /** The manifest a tag or digest names in the repository, or undefined. */
  async find(repository: string, reference: Reference): Promise<ManifestRecord | undefined> {
    const rows =
      reference.kind === 'tag'
        ? await this.runtime.db.query<ManifestRow[]>(
            'SELECT m.digest, m.media_type, m.size FROM dockyard_tags t JOIN dockyard_manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = ? AND t.tag = ?',
            [repository, reference.tag],
          )
        : await this.runtime.db.query<ManifestRow[]>('SELECT digest, media_type, size FROM dockyard_manifests WHERE repository = ? AND digest = ?', [
            repository,
            reference.digest,
          ]);
    const row = rows[0];
    return row ? { digest: row.digest, mediaType: row.media_type, size: Number(row.size) } : undefined;
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await this.metadata.findRepository(repository)) !== undefined;
  }

  /** Counts one download of the manifest (and of the tag it was asked by). */
  async countPull(repository: string, digest: string, tag?: string): Promise<void> {
    await this.runtime.db.query('UPDATE dockyard_manifests SET pulls = pulls + 1 WHERE repository = ? AND digest = ?', [repository, digest]);
    if (tag) await this.runtime.db.query('UPDATE dockyard_tags SET pulls = pulls + 1 WHERE repository = ? AND tag = ?', [repository, tag]);
  }

  /** Deletes a manifest with its tags and references (by digest), or only a tag. False when there was nothing. */
  async delete(repository: string, reference: Reference, actor: ImageActor): Promise<boolean> {
    const repo = await this.metadata.findRepository(repository);
    if (!repo) return false;
    let event: ImageDeleted;
    if (reference.kind === 'tag') {
      const [tag] = await this.runtime.db.query<{ digest: string }[]>('SELECT digest FROM dockyard_tags WHERE repository = ? AND tag = ?', [
        repository,
        reference.tag,
      ]);
      if (!tag) return false;
      await this.runtime.db.query('DELETE FROM dockyard_tags WHERE repository = ? AND tag = ? AND digest = ?', [repository, reference.tag, tag.digest]);
      event = { repository, workspace: repo.workspace, org: repo.org, project: repo.project, digest: tag.digest, tags: [reference.tag], manifestDeleted: false, deletedBy: actor.name };
    } else {
      const digest = reference.digest;
      const found = await this.find(repository, reference);
      if (!found) return false;
      const tags = await this.runtime.db.transaction(async (manager) => {
        const rows = (await manager.query('SELECT tag FROM dockyard_tags WHERE repository = ? AND digest = ? ORDER BY tag', [repository, digest])) as { tag: string }[];
        await manager.query('DELETE FROM dockyard_tags WHERE repository = ? AND digest = ?', [repository, digest]);
        await manager.query('DELETE FROM dockyard_manifest_blobs WHERE repository = ? AND manifest_digest = ?', [repository, digest]);
        await manager.query('DELETE FROM dockyard_manifest_children WHERE repository = ? AND manifest_digest = ?', [repository, digest]);
        await manager.query('DELETE FROM dockyard_manifests WHERE repository = ? AND digest = ?', [repository, digest]);
        await manager.query('DELETE FROM dockyard_repository_blobs WHERE repository = ? AND digest = ?', [repository, digest]);
        return rows.map((row) => row.tag);
      });
      event = { repository, workspace: repo.workspace, org: repo.org, project: repo.project, digest, tags, manifestDeleted: true, deletedBy: actor.name };
    }
    await this.runtime.store.append(imageStream(repository), 'any', [{ type: 'ImageDeleted', data: event }], { actor: actor.id ?? actor.name, tenant: repo.org });
    return true;
  }

  /** Tags of a repository in lexical order, after `last`, at most `limit` (+1 to tell whether more follow). */
  async tags(repository: string, last: string | undefined, limit: number | undefined): Promise<string[]> {
    const parameters: unknown[] = [repository];
    let sql = 'SELECT tag FROM dockyard_tags WHERE repository = ?';
    if (last !== undefined) {
      sql += ' AND tag > ?';
      parameters.push(last);
    }
    sql += ' ORDER BY tag';
    if (limit !== undefined) {
      sql += ' LIMIT ?';
      parameters.push(limit);
    }
    const rows = await this.runtime.db.query<{ tag: string }[]>(sql, parameters);
    return rows.map((row) => row.tag);
  }

  /** Descriptors of the manifests whose `subject` is `digest`, optionally of one artifact type. */
  async referrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const rows = await this.runtime.db.query<
      { digest: string; media_type: string; size: number | string; artifact_type: string | null; config_media_type: string | null; annotations: string | null }[]
    >(
      'SELECT digest, media_type, size, artifact_type, config_media_type, annotations FROM dockyard_manifests WHERE repository = ? AND subject_digest = ? ORDER BY created_at, digest',
      [repository, digest],
    );
    const descriptors = rows.map((row) => {
      const descriptor: Descriptor = { mediaType: row.media_type, digest: row.digest, size: Number(row.size) };
      const type = row.artifact_type ?? row.config_media_type;
      if (type) descriptor.artifactType = type;
      if (row.annotations) descriptor.annotations = JSON.parse(row.annotations) as Record<string, string>;
      return descriptor;
    });
    return artifactType === undefined ? descriptors : descriptors.filter((descriptor) => descriptor.artifactType === artifactType);
  }

  tooLarge(size: number): OciError {
    return new OciError(
      'SIZE_INVALID',
      `the manifest is ${size} bytes; this registry accepts manifests up to ${this.settings.maxManifestBytes} bytes`,
      { size, limit: this.settings.maxManifestBytes },
      413,
    );
  }

  private parse(bytes: Buffer, contentType: string | undefined): ManifestShape {
    const headerType = contentType?.split(';')[0].trim().toLowerCase() || undefined;
    if (headerType !== undefined) requireManifestType(headerType);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw invalid(`the manifest is not JSON: ${(error as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the manifest must be a JSON object');
    const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
    if (body.mediaType !== undefined && declared === undefined) throw invalid('the manifest\'s "mediaType" must be a string');
    const mediaType = headerType ?? declared;
    if (!mediaType) throw invalid('the manifest has no media type: send it as Content-Type (and in "mediaType")');
    if (declared !== undefined && headerType !== undefined && declared !== headerType) {
      throw invalid(`the Content-Type ${headerType} differs from the manifest's "mediaType" ${declared}`);
    }
    requireManifestType(mediaType);
    if (mediaType !== MEDIA_TYPES.ociArtifact && body.schemaVersion !== 2) throw invalid('the manifest\'s "schemaVersion" must be 2');
    const artifactType = optionalString(body.artifactType, 'artifactType');
    const subject = body.subject === undefined || body.subject === null ? null : descriptor(body.subject, 'subject').digest;
    const annotations = annotationsOf(body.annotations);
    if (INDEX_TYPES.includes(mediaType)) {
      if (!Array.isArray(body.manifests)) throw invalid('an index must list its "manifests"');
      const children = body.manifests.map((entry, index) => descriptor(entry, `manifests[${index}]`));
      return { kind: 'index', bodyMediaType: declared, blobs: [], children, artifactType, configMediaType: null, subject, annotations };
    }
    if (mediaType === MEDIA_TYPES.ociArtifact) {
      const blobs = body.blobs === undefined ? [] : Array.isArray(body.blobs) ? body.blobs.map((entry, index) => descriptor(entry, `blobs[${index}]`)) : undefined;
      if (!blobs) throw invalid('"blobs" must be a list of descriptors');
      return { kind: 'image', bodyMediaType: declared, blobs, children: [], artifactType, configMediaType: null, subject, annotations };
    }
    const config = descriptor(body.config, 'config');
    if (!Array.isArray(body.layers)) throw invalid('an image manifest must list its "layers"');
    const layers = body.layers.map((entry, index) => descriptor(entry, `layers[${index}]`));
    return { kind: 'image', bodyMediaType: declared, blobs: [config, ...layers], children: [], artifactType, configMediaType: config.mediaType, subject, annotations };
  }
}

function requireManifestType(mediaType: string): void {
  if (IMAGE_TYPES.includes(mediaType) || INDEX_TYPES.includes(mediaType)) return;
  if (mediaType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw invalid('Docker image manifest schema 1 is not supported: push schema 2 or an OCI manifest');
  }
  throw invalid(`media type ${printable(mediaType)} is not a manifest type this registry stores: use ${[...IMAGE_TYPES, ...INDEX_TYPES].join(', ')}`);
}

function invalid(message: string, detail?: Record<string, unknown>): OciError {
  return new OciError('MANIFEST_INVALID', message, detail);
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 191) throw invalid(`"${field}" must be a media type of at most 191 characters`);
  return value;
}

function annotationsOf(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((entry) => typeof entry === 'string')) {
    throw invalid('"annotations" must map strings to strings');
  }
  return value as Record<string, string>;
}

function descriptor(value: unknown, where: string): Descriptor {
  const entry = value as Descriptor;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid(`${where} must be a descriptor (mediaType, digest, size)`);
  if (typeof entry.mediaType !== 'string' || !entry.mediaType || entry.mediaType.length > 191) {
    throw invalid(`${where}.mediaType must be a media type of at most 191 characters`);
  }
  if (!isDigest(entry.digest)) {
    throw invalid(`${where}.digest must be sha256:<64 hex> or sha512:<128 hex>`, { digest: typeof entry.digest === 'string' ? printable(entry.digest) : null });
  }
  if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0) throw invalid(`${where}.size must be a whole number of bytes`);
  return entry;
}
