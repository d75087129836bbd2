import { createHash } from 'node:crypto';
import { isRepositoryName, isTag } from '../registry/names';
import { isDigest } from '../storage/digest';
import { type ArchiveContents, resolveFile, type StoredFile } from './import-archive';
import { ImportErrorCodes, importInvalid } from './import-errors';

export const IMPORT_MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** A name the archive gives an image: the repository inside the workspace (without it) and the tag. */
export interface ImageName {
  repository: string;
  tag: string;
}

/** `?repository=&tag=` of the import. */
export interface NameOverride {
  repository?: string;
  tag?: string;
}

export interface BlobRef {
  digest: string;
  size: number;
}

/** A manifest to put through the registry, by digest (children of an index) or by tag. */
export interface PlannedManifest {
  bytes: Buffer;
  mediaType: string;
  blobs: BlobRef[];
}

/** One image of the archive: what to link, which manifests to store (children first), under which names. */
export interface PlannedImage {
  /** The archive's names of the image (before overrides). */
  names: ImageName[];
  /** Manifests an index lists, stored by digest before it. */
  children: PlannedManifest[];
  manifest: PlannedManifest;
}

/** `{ ws, names }` → the final `<ws>/<repo>` and tag of every image, refusing ambiguity. */
export interface Target {
  repository: string;
  tag: string;
}

/**
 * Reads a name as docker and podman write it in `RepoTags` or an OCI `ref.name`
 * (`localhost/app:1.0`, `docker.io/library/busybox:latest`, `registry:5000/team/app`):
 * the registry host and Docker Hub's `library/` are dropped, the rest names the
 * repository inside the workspace. Undefined for a name without a tag or with a digest.
 */
export function parseImageName(value: string): ImageName | undefined {
  if (!value || value.includes('@')) return undefined;
  const slash = value.lastIndexOf('/');
  const colon = value.lastIndexOf(':');
  if (colon <= slash) return undefined;
  const tag = value.slice(colon + 1);
  const parts = value.slice(0, colon).split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    const host = parts.shift();
    if ((host === 'docker.io' || host === 'index.docker.io') && parts[0] === 'library' && parts.length > 1) parts.shift();
  }
  return { repository: parts.join('/').toLowerCase(), tag };
}

/**
 * Where each image goes. `repository` puts every image of the archive in that
 * repository (keeping each one's tag, `latest` when it has none); `tag` gives the
 * single image of the archive that tag instead of its own. An image without a name
 * needs `repository`. Two images under one name are refused.
 */
export function targetsOf(workspace: string, images: PlannedImage[], override: NameOverride): Target[][] {
  if (override.tag !== undefined && images.length > 1) {
    throw importInvalid(ImportErrorCodes.TAG_AMBIGUOUS, `The archive holds ${images.length} images; "tag" can only name an archive of one image. Leave it out to keep the archive's tags.`);
  }
  const taken = new Map<string, string>();
  return images.map((image) => {
    let names: ImageName[];
    if (override.repository !== undefined) {
      const tags = override.tag !== undefined ? [override.tag] : image.names.length ? [...new Set(image.names.map((name) => name.tag))] : ['latest'];
      names = tags.map((tag) => ({ repository: override.repository!, tag }));
    } else {
      if (!image.names.length || image.names.some((name) => !name.repository)) {
        throw importInvalid(
          ImportErrorCodes.NAME_REQUIRED,
          'An image of the archive has no name (no RepoTags or ref.name annotation): name it with ?repository=<repo>&tag=<tag>.',
        );
      }
      names = override.tag !== undefined ? [{ repository: image.names[0].repository, tag: override.tag }] : image.names;
    }
    const targets: Target[] = [];
    for (const name of names) {
      const repository = `${workspace}/${name.repository}`;
      if (!isRepositoryName(repository)) {
        throw importInvalid(
          ImportErrorCodes.NAME_INVALID,
          `"${name.repository}" is not a valid repository name: lowercase letters and digits separated by ".", "_", "__" or "-", with "/" between parts; name it with ?repository=.`,
          { repository: name.repository },
        );
      }
      if (!isTag(name.tag)) {
        throw importInvalid(ImportErrorCodes.NAME_INVALID, `"${name.tag}" is not a valid tag: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".`, {
          tag: name.tag,
        });
      }
      const key = `${repository}:${name.tag}`;
      const digestKey = createHash('sha256').update(image.manifest.bytes).digest('hex');
      if (taken.has(key) && taken.get(key) !== digestKey) {
        throw importInvalid(ImportErrorCodes.TAG_AMBIGUOUS, `Two images of the archive would both be ${key}; name them apart or import them one by one.`, { name: key });
      }
      if (taken.has(key)) continue;
      taken.set(key, digestKey);
      targets.push({ repository, tag: name.tag });
    }
    return targets;
  });
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * The images of a `docker save` archive (`manifest.json`): each one's config and
 * layers as stored, and a Docker schema 2 manifest built from them (an OCI manifest
 * when a layer is zstd, which schema 2 cannot name). Layers are listed with the
 * media type of what they are: an uncompressed tar normally, gzip when they are.
 */
export async function planDockerArchive(contents: ArchiveContents, document: Buffer, read: ManifestReader): Promise<PlannedImage[]> {
  const entries = parseJson(document, 'manifest.json');
  if (!Array.isArray(entries) || entries.length === 0) throw manifestInvalid('manifest.json must be a non-empty list of images');
  const images: PlannedImage[] = [];
  for (const [index, raw] of entries.entries()) {
    const entry = raw as DockerArchiveEntry;
    if (typeof entry !== 'object' || entry === null || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers) || !entry.Layers.every((layer) => typeof layer === 'string')) {
      throw manifestInvalid(`manifest.json's image ${index} needs "Config" (a file name) and "Layers" (a list of file names)`);
    }
    if (entry.RepoTags !== undefined && entry.RepoTags !== null && (!Array.isArray(entry.RepoTags) || !entry.RepoTags.every((tag) => typeof tag === 'string'))) {
      throw manifestInvalid(`manifest.json's image ${index} has "RepoTags" that are not a list of names`);
    }
    const config = required(contents, entry.Config);
    const layers = entry.Layers.map((layer) => ({ name: layer, file: required(contents, layer) }));
    checkDiffIds(parseJson(await read(config), entry.Config), layers, entry.Config);
    const oci = layers.some((layer) => layer.file.compression === 'zstd');
    const layerType = (file: StoredFile): string => {
      if (file.compression === 'zstd') return IMPORT_MEDIA_TYPES.ociLayerZstd;
      if (file.compression === 'gzip') return oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : IMPORT_MEDIA_TYPES.dockerLayerGzip;
      return oci ? 'application/vnd.oci.image.layer.v1.tar' : IMPORT_MEDIA_TYPES.dockerLayer;
    };
    const manifest = {
      schemaVersion: 2,
      mediaType: oci ? IMPORT_MEDIA_TYPES.ociManifest : IMPORT_MEDIA_TYPES.dockerManifest,
      config: { mediaType: oci ? IMPORT_MEDIA_TYPES.ociConfig : IMPORT_MEDIA_TYPES.dockerConfig, size: config.size, digest: config.digest },
      layers: layers.map((layer) => ({ mediaType: layerType(layer.file), size: layer.file.size, digest: layer.file.digest })),
    };
    const names = (entry.RepoTags ?? []).map(parseImageName).filter((name): name is ImageName => name !== undefined);
    images.push({
      names,
      children: [],
      manifest: {
        bytes: Buffer.from(JSON.stringify(manifest, null, 2)),
        mediaType: manifest.mediaType,
        blobs: [config, ...layers.map((layer) => layer.file)].map(({ digest, size }) => ({ digest, size })),
      },
    });
  }
  return images;
}

/**
 * The config's `rootfs.diff_ids` are the digests of the uncompressed layers, in order:
 * a layer stored uncompressed must have exactly that digest, or the image could not run.
 */
function checkDiffIds(config: unknown, layers: { name: string; file: StoredFile }[], where: string): void {
  const rootfs = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs;
  const diffIds = rootfs?.diff_ids;
  if (!Array.isArray(diffIds)) throw manifestInvalid(`the config ${where} has no rootfs.diff_ids`);
  if (diffIds.length !== layers.length) throw manifestInvalid(`the config ${where} lists ${diffIds.length} layers, manifest.json ${layers.length}`);
  for (const [position, layer] of layers.entries()) {
    if (layer.file.compression === 'none' && diffIds[position] !== layer.file.digest) {
      throw manifestInvalid(`layer ${layer.name.slice(0, 200)} has the digest ${layer.file.digest}, but the config expects ${String(diffIds[position]).slice(0, 200)}`);
    }
  }
}

/** Reads a manifest stored from the archive (bounded by the registry's manifest limit). */
export type ManifestReader = (file: StoredFile) => Promise<Buffer>;

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: Record<string, unknown>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

/**
 * The images of an OCI image layout (`index.json`): each entry's manifest with its
 * blobs, kept byte for byte (so the digest is the one the image had); an entry that is
 * an index brings its child manifests. Names come from `org.opencontainers.image.ref.name`
 * (a full name as podman writes it, or only a tag as the spec suggests, then with
 * containerd's `io.containerd.image.name` for the repository).
 */
export async function planOciLayout(contents: ArchiveContents, document: Buffer, read: ManifestReader): Promise<PlannedImage[]> {
  const index = parseJson(document, 'index.json') as { manifests?: unknown };
  if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests) || index.manifests.length === 0) {
    throw manifestInvalid('index.json must list the images in "manifests"');
  }
  const byDigest = new Map<string, PlannedImage>();
  for (const [position, raw] of index.manifests.entries()) {
    const descriptor = checkDescriptor(raw, `index.json manifests[${position}]`);
    const names = namesOf(descriptor.annotations);
    const known = byDigest.get(descriptor.digest);
    if (known) {
      known.names.push(...names);
      continue;
    }
    const loaded = await loadManifest(contents, descriptor, read);
    const children: PlannedManifest[] = [];
    if (loaded.children.length) {
      for (const child of loaded.children) {
        const grandchild = await loadManifest(contents, child, read);
        if (grandchild.children.length) throw manifestInvalid(`index ${child.digest} lists another index; nested indexes are not imported`);
        children.push(grandchild.manifest);
      }
    }
    byDigest.set(descriptor.digest, { names, children, manifest: loaded.manifest });
  }
  return [...byDigest.values()];
}

function namesOf(annotations: Record<string, unknown> | undefined): ImageName[] {
  const ref = typeof annotations?.[REF_NAME] === 'string' ? (annotations[REF_NAME] as string) : undefined;
  const full = typeof annotations?.[CONTAINERD_NAME] === 'string' ? (annotations[CONTAINERD_NAME] as string) : undefined;
  if (ref && (ref.includes('/') || ref.includes(':'))) {
    const name = parseImageName(ref);
    return name ? [name] : [];
  }
  if (full) {
    const name = parseImageName(full.includes(':', full.lastIndexOf('/')) ? full : `${full}:${ref ?? 'latest'}`);
    if (name) return [ref ? { repository: name.repository, tag: ref } : name];
  }
  // Only a tag: the repository has to come from ?repository=.
  return ref ? [{ repository: '', tag: ref }] : [];
}

interface CheckedDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, unknown>;
}

function checkDescriptor(raw: unknown, where: string): CheckedDescriptor {
  const descriptor = raw as Descriptor;
  if (typeof descriptor !== 'object' || descriptor === null) throw manifestInvalid(`${where} must be a descriptor`);
  if (!isDigest(descriptor.digest)) throw manifestInvalid(`${where} has no valid digest (sha256:<64 hex> or sha512:<128 hex>)`);
  if (typeof descriptor.size !== 'number' || !Number.isSafeInteger(descriptor.size) || descriptor.size < 0) throw manifestInvalid(`${where} has no valid size`);
  if (typeof descriptor.mediaType !== 'string') throw manifestInvalid(`${where} has no media type`);
  const annotations = typeof descriptor.annotations === 'object' && descriptor.annotations !== null ? descriptor.annotations : undefined;
  return { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, annotations };
}

async function loadManifest(
  contents: ArchiveContents,
  descriptor: CheckedDescriptor,
  read: ManifestReader,
): Promise<{ manifest: PlannedManifest; children: CheckedDescriptor[] }> {
  const file = blobOf(contents, descriptor);
  const bytes = await read(file);
  const body = parseJson(bytes, `manifest ${descriptor.digest}`) as { mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown; blobs?: unknown };
  if (typeof body !== 'object' || body === null) throw manifestInvalid(`manifest ${descriptor.digest} is not a JSON object`);
  const mediaType = typeof body.mediaType === 'string' ? body.mediaType : descriptor.mediaType;
  if (mediaType === IMPORT_MEDIA_TYPES.ociIndex || mediaType === IMPORT_MEDIA_TYPES.dockerList) {
    if (!Array.isArray(body.manifests)) throw manifestInvalid(`index ${descriptor.digest} has no "manifests"`);
    const children = body.manifests.map((child, position) => checkDescriptor(child, `index ${descriptor.digest} manifests[${position}]`));
    return { manifest: { bytes, mediaType, blobs: [] }, children };
  }
  const listed: unknown[] = [];
  if (body.config !== undefined) listed.push(body.config);
  if (Array.isArray(body.layers)) listed.push(...body.layers);
  if (Array.isArray(body.blobs)) listed.push(...body.blobs);
  const blobs = listed.map((raw, position) => {
    const checked = checkDescriptor(raw, `manifest ${descriptor.digest} blob ${position}`);
    const stored = blobOf(contents, checked);
    return { digest: stored.digest, size: stored.size };
  });
  return { manifest: { bytes, mediaType, blobs }, children: [] };
}

/** The stored file of an OCI layout blob (`blobs/<alg>/<hex>`), of the size its descriptor says. */
function blobOf(contents: ArchiveContents, descriptor: CheckedDescriptor): StoredFile {
  const [algorithm, encoded] = descriptor.digest.split(':');
  const file = resolveFile(contents, `blobs/${algorithm}/${encoded}`);
  if (!file) throw missing(descriptor.digest);
  if (file.size !== descriptor.size) {
    throw manifestInvalid(`blob ${descriptor.digest} is ${file.size} bytes in the archive, but its descriptor says ${descriptor.size}`);
  }
  return file;
}

function required(contents: ArchiveContents, name: string): StoredFile {
  const file = resolveFile(contents, name);
  if (!file) throw missing(name);
  return file;
}

function missing(name: string) {
  return importInvalid(ImportErrorCodes.BLOB_MISSING, `The archive's manifest names ${JSON.stringify(name.slice(0, 200))}, which the archive does not hold: the archive is incomplete.`, {
    name: name.slice(0, 200),
  });
}

function manifestInvalid(message: string) {
  return importInvalid(ImportErrorCodes.MANIFEST_INVALID, `The archive is not a valid image archive: ${message}.`);
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw manifestInvalid(`${what} is not JSON (${(error as Error).message})`);
  }
}
