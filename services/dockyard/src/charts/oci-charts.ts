import { Inject, Injectable, Logger } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store';
import { isDigest } from '../storage/digest';
import { chartMetadata, type ChartMetadata } from './chart-metadata';

export const HELM_MEDIA_TYPES = {
  config: 'application/vnd.cncf.helm.config.v1+json',
  chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  provenance: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
} as const;

/** A Helm chart pushed through /v2 (`helm push` to `oci://<host>/<workspace>[/...]`), tagged with its version. */
export interface OciChart {
  metadata: ChartMetadata;
  /** `<workspace>/<repo>[/...]` holding it, and the tag. */
  repository: string;
  tag: string;
  manifestDigest: string;
  /** The chart content layer: the .tgz itself. */
  digest: string;
  size: number;
  provenance?: { digest: string; size: number };
  createdAt: string;
}

interface ParsedManifest {
  metadata: ChartMetadata;
  digest: string;
  size: number;
  provenance?: { digest: string; size: number };
}

interface TagRow {
  repository: string;
  tag: string;
  digest: string;
  created_at: Date | string;
}

const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Manifests are immutable (content-addressed): what was read of one is kept. */
const CACHE_ENTRIES = 5000;
/** Most OCI chart tags listed per workspace. */
const MAX_TAGS = 10_000;

/**
 * Helm OCI charts of a workspace, read from the registry's tables (tags whose manifest
 * has Helm's config media type) and blobs (the config holds Chart.yaml's fields as JSON).
 * A manifest that is not a readable Helm chart is left out of the listing.
 */
@Injectable()
export class OciCharts {
  private readonly logger = new Logger(OciCharts.name);
  private readonly cache = new Map<string, ParsedManifest | null>();

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  /** Newest tag first; one entry per chart name and version (the most recently pushed). */
  async list(workspace: string, name?: string): Promise<OciChart[]> {
    let rows: TagRow[];
    try {
      rows = await this.runtime.db.query<TagRow[]>(
        `SELECT t.repository, t.tag, t.digest, t.updated_at AS created_at
           FROM dockyard_tags t
           JOIN dockyard_manifests m ON m.repository = t.repository AND m.digest = t.digest
           JOIN dockyard_repositories r ON r.name = t.repository
          WHERE r.workspace = ? AND m.config_media_type = ?
          ORDER BY t.updated_at DESC, t.repository, t.tag
          LIMIT ${MAX_TAGS}`,
        [workspace, HELM_MEDIA_TYPES.config],
      );
    } catch (error) {
      // Without the registry's tables (a dockyard without /v2) there are no OCI charts.
      this.logger.debug({ msg: 'OCI charts not listed', err: error });
      return [];
    }
    const seen = new Set<string>();
    const charts: OciChart[] = [];
    for (const row of rows) {
      const parsed = await this.read(row.digest);
      if (!parsed || (name !== undefined && parsed.metadata.name !== name)) continue;
      const key = `${parsed.metadata.name}\u0000${parsed.metadata.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      charts.push({
        metadata: parsed.metadata,
        repository: row.repository,
        tag: row.tag,
        manifestDigest: row.digest,
        digest: parsed.digest,
        size: parsed.size,
        provenance: parsed.provenance,
        createdAt: new Date(row.created_at).toISOString(),
      });
    }
    return charts;
  }

  async find(workspace: string, name: string, version: string): Promise<OciChart | undefined> {
    return (await this.list(workspace, name)).find((chart) => chart.metadata.version === version);
  }

  private async read(manifestDigest: string): Promise<ParsedManifest | null> {
    if (this.cache.has(manifestDigest)) return this.cache.get(manifestDigest)!;
    let parsed: ParsedManifest | null = null;
    try {
      const manifest = JSON.parse((await this.readSmall(manifestDigest, MAX_MANIFEST_BYTES)).toString('utf8')) as {
        config?: { mediaType?: string; digest?: string };
        layers?: { mediaType?: string; digest?: string; size?: number }[];
      };
      const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
      const chart = layers.find((layer) => layer.mediaType === HELM_MEDIA_TYPES.chart);
      const prov = layers.find((layer) => layer.mediaType === HELM_MEDIA_TYPES.provenance);
      if (manifest.config?.mediaType === HELM_MEDIA_TYPES.config && isDigest(manifest.config.digest) && chart && isDigest(chart.digest) && typeof chart.size === 'number') {
        const config = JSON.parse((await this.readSmall(manifest.config.digest, MAX_CONFIG_BYTES)).toString('utf8')) as unknown;
        parsed = {
          metadata: chartMetadata(config, 'the chart config'),
          digest: chart.digest,
          size: chart.size,
          provenance: prov && isDigest(prov.digest) && typeof prov.size === 'number' ? { digest: prov.digest, size: prov.size } : undefined,
        };
      }
    } catch (error) {
      this.logger.debug({ msg: 'not a readable Helm OCI chart', manifest: manifestDigest, err: error });
      parsed = null;
    }
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(manifestDigest, parsed);
    return parsed;
  }

  private async readSmall(digest: string, limit: number): Promise<Buffer> {
    const stream = await this.blobs.open(digest);
    if (!stream) throw new Error(`blob ${digest} is not stored`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        stream.destroy();
        throw new Error(`blob ${digest} is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }
}
