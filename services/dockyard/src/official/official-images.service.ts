import { Readable } from 'node:stream';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { ConflictError, RetryingRounds, type RoundOutcome } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { ManifestService, MEDIA_TYPES } from '../registry';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { WorkspacesService } from '../workspaces/workspaces.service';
import { DebianHost, MissingPackageError } from './debian-host';
import { buildLayer, sha256 } from './image-layer';
import { OFFICIAL_ACTOR, OFFICIAL_IMAGES, OFFICIAL_WORKSPACE, type ImageContents, type OfficialImage } from './official-images';

export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Label prefix of the Debian packages an official image holds: `io.containerops.debian.git` = `1:2.39.5-0+deb12u3`. */
export const PACKAGE_LABEL_PREFIX = 'io.containerops.debian.';

/** First and longest wait before trying again after a failure that may pass (crew or the database not answering). */
const RETRY_MS = { first: 2_000, longest: 300_000 } as const;

/** What became of one official image in a round. */
export type OfficialImageOutcome = { repository: string; tag: string } & (
  | { status: 'stored' | 'current'; digest: string; packages: Record<string, string> }
  | { status: 'skipped'; reason: string }
);

/** The bytes of one image, ready to store: its manifest, config and single layer. */
export interface BuiltImage {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layer: { blob: Buffer; digest: string };
  packages: Record<string, string>;
}

/**
 * Builds the official components' images from the host's Debian packages when dockyard
 * starts, in the background, and stores them through the registry's own manifest path
 * (`ImagePushed` events, tags, quotas) in the public workspace `official`. Builds are
 * deterministic, so an image whose tag already names the same digest is left as it is;
 * newer packages give a new digest under the same tag. A package missing on this host
 * skips the images that need it, with one warning naming it. Failures that may pass
 * (crew or the database not answering) are retried with a growing wait; shutdown
 * stops the rounds.
 */
@Injectable()
export class OfficialImagesService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly warned = new Set<string>();
  private readonly rounds: RetryingRounds;

  constructor(
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly workspaces: WorkspacesService,
    private readonly manifests: ManifestService,
    private readonly host: DebianHost,
    @Inject(SERVICE_RUNTIME) runtime: ServiceRuntime,
  ) {
    this.logger = runtime.logger.child({ component: 'official-images' });
    this.rounds = new RetryingRounds(() => this.round(), {
      firstMs: RETRY_MS.first,
      longestMs: RETRY_MS.longest,
      onError: (error, waitMs) =>
        this.logger.warn(`building the official images failed (${(error as Error).message}); trying again in ${Math.round(waitMs / 1000)} s`),
    });
  }

  onApplicationBootstrap(): void {
    if (this.settings.officialImages) this.rounds.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.rounds.stop();
  }

  /** Builds and stores every official image once; what happened to each. */
  async ensureAll(): Promise<OfficialImageOutcome[]> {
    const outcomes: OfficialImageOutcome[] = [];
    if (!(await this.ensureWorkspace())) {
      return OFFICIAL_IMAGES.map((image) => ({ repository: this.repositoryOf(image), tag: image.line, status: 'skipped', reason: 'the workspace cannot be used' }));
    }
    const architecture = await this.architecture();
    for (const image of OFFICIAL_IMAGES) {
      if (this.rounds.isStopped) break;
      outcomes.push(await this.ensure(image, architecture));
    }
    return outcomes;
  }

  /** The image's bytes, built from this host's packages (MissingPackageError when one is missing). */
  async build(image: OfficialImage, architecture: string): Promise<BuiltImage> {
    const contents: ImageContents = await image.contents(this.host);
    const layer = await buildLayer(contents.entries);
    const packages = Object.fromEntries(contents.packages.map((found) => [found.name, found.version]).sort(([a], [b]) => (a < b ? -1 : 1)));
    const labels: Record<string, string> = {
      'org.opencontainers.image.title': image.title,
      'org.opencontainers.image.version': image.line,
      ...Object.fromEntries(Object.entries(packages).map(([name, version]) => [`${PACKAGE_LABEL_PREFIX}${name}`, version])),
    };
    const config = Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: {
          Env: ['PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin', 'HOME=/root'],
          Cmd: [image.entrypoint],
          WorkingDir: '/workspace',
          Labels: labels,
        },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
        layers: [{ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.blob.length }],
      }),
    );
    return { manifest, digest: sha256(manifest), config, layer: { blob: layer.blob, digest: layer.digest }, packages };
  }

  private async round(): Promise<RoundOutcome> {
    const outcomes = await this.ensureAll();
    for (const outcome of outcomes) {
      if (outcome.status === 'stored') this.logger.info(`stored ${outcome.repository}:${outcome.tag} as ${outcome.digest}`);
    }
    return 'done';
  }

  private async ensure(image: OfficialImage, architecture: string): Promise<OfficialImageOutcome> {
    const repository = this.repositoryOf(image);
    let built: BuiltImage;
    try {
      built = await this.build(image, architecture);
    } catch (error) {
      if (!(error instanceof MissingPackageError)) throw error;
      this.warnOnce(error.packageName, `${repository} is not built: ${error.message}; install it (apt-get install ${error.packageName}) and restart dockyard`);
      return { repository, tag: image.line, status: 'skipped', reason: error.message };
    }
    if (this.rounds.isStopped) return { repository, tag: image.line, status: 'skipped', reason: 'dockyard is stopping' };
    const current = await this.manifests.find(repository, { kind: 'tag', tag: image.line }).catch(() => undefined);
    if (current?.digest === built.digest) return { repository, tag: image.line, status: 'current', digest: built.digest, packages: built.packages };
    const config = await this.store.put(Readable.from([built.config]), { expectedDigest: sha256(built.config) });
    const layer = await this.store.put(Readable.from([built.layer.blob]), { expectedDigest: built.layer.digest });
    await this.manifests.linkBlob(repository, config.digest, config.size);
    await this.manifests.linkBlob(repository, layer.digest, layer.size);
    const stored = await this.manifests.putManifest(repository, image.line, built.manifest, MEDIA_TYPES.ociManifest, { name: OFFICIAL_ACTOR });
    return { repository, tag: image.line, status: 'stored', digest: stored.digest, packages: built.packages };
  }

  /** Creates the public workspace when missing; false (with a warning) when the name is taken by another organization. */
  private async ensureWorkspace(): Promise<boolean> {
    let workspace = await this.workspaces.find(OFFICIAL_WORKSPACE.name);
    if (!workspace) {
      try {
        workspace = await this.workspaces.create({ ...OFFICIAL_WORKSPACE, visibility: 'public' }, OFFICIAL_ACTOR);
      } catch (error) {
        // Another replica created it at the same moment.
        if (!(error instanceof ConflictError)) throw error;
        workspace = await this.workspaces.require(OFFICIAL_WORKSPACE.name);
      }
    }
    if (workspace.org !== OFFICIAL_WORKSPACE.org) {
      this.warnOnce(
        'workspace',
        `the official images are not built: workspace ${OFFICIAL_WORKSPACE.name} belongs to organization ${workspace.org}, not ${OFFICIAL_WORKSPACE.org}; rename or delete it and restart dockyard`,
      );
      return false;
    }
    if (workspace.visibility !== 'public') {
      this.warnOnce('private', `workspace ${OFFICIAL_WORKSPACE.name} is private: the official images are stored, but only its members can pull them (and nucleus cannot find them); make it public`);
    }
    return true;
  }

  private async architecture(): Promise<string> {
    try {
      return await this.host.architecture();
    } catch (error) {
      if (!(error instanceof MissingPackageError)) throw error;
      // Without dpkg, every package is missing: the images are skipped one by one with that reason.
      return 'unknown';
    }
  }

  private repositoryOf(image: OfficialImage): string {
    return `${OFFICIAL_WORKSPACE.name}/${image.repository}`;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message);
  }
}
