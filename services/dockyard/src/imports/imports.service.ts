import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@co/common';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { ManifestService, OciError, RegistryMetadata, RegistryQuota, type ImageActor } from '../registry';
import { isRepositoryName, isTag } from '../registry/names';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { WorkspacesService } from '../workspaces/workspaces.service';
import { type ArchiveLimits, readImageArchive, type StoredFile } from './import-archive';
import { ImportErrorCodes, importInvalid, ImportQuotaError } from './import-errors';
import { type NameOverride, planDockerArchive, planOciLayout, type PlannedImage, type PlannedManifest, targetsOf } from './import-plan';

/** Entries of an archive: an image has a handful per layer, so this leaves room for hundreds of layers. */
export const MAX_ARCHIVE_ENTRIES = 10_000;
/** `manifest.json` / `index.json` larger than this are refused. */
export const MAX_ARCHIVE_DOCUMENT_BYTES = 1024 * 1024;
/** A `.tar.gz` may unpack to this many times the import limit, no more (a gzip bomb stops there). */
export const UNPACKED_FACTOR = 4;

export interface ImportedImage {
  /** `<workspace>/<repo>`. */
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  /** Manifest plus the blobs it references (for an index: plus its manifests' blobs). */
  size: number;
}

export interface ImportResult {
  format: 'docker-archive' | 'oci-layout';
  images: ImportedImage[];
}

/**
 * Imports the images of a `docker save` / `podman save` archive or an OCI image
 * layout into a workspace. Blobs stream into the BlobStore while the archive is read;
 * the manifests then go through the registry's own manifest path, so tags, links,
 * quotas and `ImagePushed` events are those of a push. Everything that can be checked
 * (names, blobs, manifests, quota) is checked before the first manifest is stored: a
 * refused archive leaves no tag and no manifest (its blobs are left to garbage collection).
 */
@Injectable()
export class ImportsService {
  constructor(
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly workspaces: WorkspacesService,
    private readonly manifests: ManifestService,
    private readonly metadata: RegistryMetadata,
    private readonly quota: RegistryQuota,
  ) {}

  /** Refuses bad `?repository=` / `?tag=` before a byte of the archive is read. */
  checkOverride(workspace: string, override: NameOverride): void {
    if (override.repository !== undefined && !isRepositoryName(`${workspace}/${override.repository}`)) {
      throw importInvalid(
        ImportErrorCodes.NAME_INVALID,
        `"${override.repository.slice(0, 200)}" is not a valid repository name: lowercase letters and digits separated by ".", "_", "__" or "-", with "/" between parts (the workspace is not repeated).`,
        { repository: override.repository.slice(0, 200) },
      );
    }
    if (override.tag !== undefined && !isTag(override.tag)) {
      throw importInvalid(ImportErrorCodes.NAME_INVALID, `"${override.tag.slice(0, 200)}" is not a valid tag: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".`, {
        tag: override.tag.slice(0, 200),
      });
    }
  }

  limits(): ArchiveLimits {
    return {
      maxBytes: this.settings.maxImportBytes,
      maxUnpackedBytes: this.settings.maxImportBytes * UNPACKED_FACTOR,
      maxEntries: MAX_ARCHIVE_ENTRIES,
      maxDocumentBytes: MAX_ARCHIVE_DOCUMENT_BYTES,
    };
  }

  async import(workspaceName: string, source: Readable, override: NameOverride, actor: ImageActor): Promise<ImportResult> {
    const workspace = await this.workspaces.require(workspaceName);
    this.checkOverride(workspace.name, override);
    const contents = await readImageArchive(source, this.store, this.limits());

    const dockerManifest = contents.documents.get('manifest.json');
    const ociIndex = contents.documents.get('index.json');
    let format: ImportResult['format'];
    let images: PlannedImage[];
    // docker 25+ writes both; manifest.json then lists exactly the images the archive holds.
    if (dockerManifest) {
      format = 'docker-archive';
      images = await planDockerArchive(contents, dockerManifest, (file) => this.readManifest(file));
    } else if (ociIndex) {
      format = 'oci-layout';
      images = await planOciLayout(contents, ociIndex, (file) => this.readManifest(file));
    } else {
      throw importInvalid(
        ImportErrorCodes.ARCHIVE_INVALID,
        'The archive has neither manifest.json (docker save, podman save) nor index.json (OCI image layout): it is not an image archive.',
      );
    }
    const targets = targetsOf(workspace.name, images, override);

    await this.checkQuota(workspace, images);
    const imported: ImportedImage[] = [];
    try {
      for (const [index, image] of images.entries()) {
        for (const repository of [...new Set(targets[index].map((target) => target.repository))]) {
          for (const manifest of [...image.children, image.manifest]) {
            for (const blob of manifest.blobs) await this.manifests.linkBlob(repository, blob.digest, blob.size);
          }
          for (const child of image.children) await this.manifests.putManifest(repository, this.digestOf(child), child.bytes, child.mediaType, actor);
          for (const target of targets[index].filter((entry) => entry.repository === repository)) {
            const stored = await this.manifests.putManifest(repository, target.tag, image.manifest.bytes, image.manifest.mediaType, actor);
            imported.push({ repository, tag: target.tag, digest: stored.digest, mediaType: stored.mediaType, size: sizeOf(image) });
          }
        }
      }
    } catch (error) {
      throw this.translate(error);
    }
    return { format, images: imported };
  }

  /** A manifest or image config of the archive, read back from the BlobStore (both are bounded by the manifest limit). */
  private async readManifest(file: StoredFile): Promise<Buffer> {
    if (file.size > this.settings.maxManifestBytes) {
      throw importInvalid(
        ImportErrorCodes.MANIFEST_INVALID,
        `A manifest or image config of the archive is ${file.size} bytes; up to ${this.settings.maxManifestBytes} bytes are accepted.`,
      );
    }
    const content = await this.store.open(file.digest);
    if (!content) throw importInvalid(ImportErrorCodes.BLOB_MISSING, `The archive's manifest ${file.digest} could not be read back; import the archive again.`);
    return buffer(content);
  }

  private digestOf(manifest: PlannedManifest): string {
    return `sha256:${createHash('sha256').update(manifest.bytes).digest('hex')}`;
  }

  /** The archive's distinct blobs and manifests that the organization does not hold yet must fit its quota. */
  private async checkQuota(workspace: Awaited<ReturnType<WorkspacesService['require']>>, images: PlannedImage[]): Promise<void> {
    const sizes = new Map<string, number>();
    for (const image of images) {
      for (const manifest of [...image.children, image.manifest]) {
        for (const blob of manifest.blobs) sizes.set(blob.digest, blob.size);
        sizes.set(this.digestOf(manifest), manifest.bytes.length);
      }
    }
    let incoming = 0;
    for (const [digest, size] of sizes) {
      if (!(await this.metadata.heldByOrg(workspace.org, digest))) incoming += size;
    }
    try {
      await this.quota.check(workspace, incoming);
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** The registry's answers in the REST API's terms. */
  private translate(error: unknown): unknown {
    if (!(error instanceof OciError)) return error;
    switch (error.code) {
      case 'DENIED':
        return new ImportQuotaError(`${error.message}.`, error.detail);
      case 'NAME_UNKNOWN':
        return new NotFoundError('WORKSPACE.NOT_FOUND', error.message, error.detail);
      case 'BLOB_UNKNOWN':
      case 'MANIFEST_BLOB_UNKNOWN':
        return importInvalid(ImportErrorCodes.BLOB_MISSING, `The archive is incomplete: ${error.message}.`, error.detail);
      case 'NAME_INVALID':
        return importInvalid(ImportErrorCodes.NAME_INVALID, error.message, error.detail);
      default:
        return importInvalid(ImportErrorCodes.MANIFEST_INVALID, `The archive's manifest was refused: ${error.message}.`, { registryCode: error.code, ...error.detail });
    }
  }
}

function sizeOf(image: PlannedImage): number {
  const of = (manifest: PlannedManifest) => manifest.bytes.length + manifest.blobs.reduce((sum, blob) => sum + blob.size, 0);
  return of(image.manifest) + image.children.reduce((sum, child) => sum + of(child), 0);
}
