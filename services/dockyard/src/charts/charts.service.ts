import { RegistryQuota } from '../registry/registry-quota';
import { quotaCut, storageRoom } from '../registry/storage-room';
import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { stringify } from 'yaml';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ConflictError, DomainError, InvalidInputError, NotFoundError } from '@co/common';
import { sqlTime } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { BLOB_STORE, type BlobInfo, type BlobStore } from '../storage/blob-store';
import { BlobTooLargeError } from '../storage/storage-errors';
import type { Workspace } from '../workspaces/workspaces.service';
import { inspectChartArchive, storeInspected } from './chart-archive';
import { ChartInvalidError, type ChartMetadata } from './chart-metadata';
import { newestFirst, packageCandidates, packageFileName } from './chart-names';
import { chartStream, type ChartDeleted, type ChartPublished } from './chart.events';
import { OciCharts, type OciChart } from './oci-charts';

/** A provenance file is a short signed text; more than this is not one. */
export const MAX_PROVENANCE_BYTES = 1024 * 1024;

/** One chart version as the repository index and the ChartMuseum API show it. */
export interface ChartVersion extends ChartMetadata {
  urls: string[];
  created: string;
  /** sha256 hex of the .tgz (Helm writes it without the `sha256:` prefix). */
  digest: string;
}

/** A chart version with where it comes from: uploaded to the chart API, or pushed to /v2 as a Helm OCI chart. */
export interface ListedChart {
  version: ChartVersion;
  source: 'upload' | 'oci';
  size: number;
  /** Blob of the .tgz and of its provenance file. */
  blob: string;
  provenance?: string;
  downloads?: number;
  /** For OCI charts: the repository and tag. */
  repository?: string;
  tag?: string;
}

interface ChartRow {
  workspace: string;
  name: string;
  version: string;
  digest: string;
  size: number | string;
  metadata: string;
  prov_digest: string | null;
  downloads: number | string;
  created_at: Date | string;
}

export interface PublishInput {
  chart: Readable;
  provenance?: Buffer;
  force: boolean;
}

/** A package received before its metadata was recorded. */
export interface ReceivedChart {
  metadata: ChartMetadata;
  blob: BlobInfo;
}

/**
 * A workspace's Helm chart repository: chart packages uploaded through the
 * ChartMuseum-compatible API, listed with the Helm OCI charts pushed through /v2.
 * An uploaded version shadows an OCI chart of the same name and version.
 */
@Injectable()
export class ChartsService {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly oci: OciCharts,
    private readonly quota: RegistryQuota,
  ) {}

  /** The bytes a chart upload to the workspace may bring under its registry quota (undefined: no limit). */
  room(workspace: Workspace): Promise<number | undefined> {
    return storageRoom(this.quota, workspace);
  }

  /** Streams a chart package into storage while checking it; nothing is stored when it is refused. */
  async receive(source: Readable, workspace?: Workspace, room?: number): Promise<ReceivedChart> {
    const limit = room === undefined ? this.settings.maxChartBytes : Math.min(room, this.settings.maxChartBytes);
    try {
      const { blob, result } = await storeInspected(source, this.blobs, limit, (stream) => inspectChartArchive(stream));
      return { metadata: result, blob };
    } catch (error) {
      if (error instanceof BlobTooLargeError && workspace && room !== undefined && room < this.settings.maxChartBytes) throw quotaCut(workspace, room);
      if (error instanceof BlobTooLargeError) {
        throw new DomainError('CHART.TOO_LARGE', `The chart package is larger than ${this.settings.maxChartBytes} bytes, the most this repository accepts.`, 413, GrpcStatus.RESOURCE_EXHAUSTED);
      }
      throw error;
    }
  }

  /** Stores a provenance file (the `.prov` that `helm package --sign` writes). */
  async receiveProvenance(bytes: Buffer): Promise<BlobInfo> {
    if (bytes.length > MAX_PROVENANCE_BYTES) throw new InvalidInputError('CHART.PROVENANCE_INVALID', `The provenance file is larger than ${MAX_PROVENANCE_BYTES} bytes.`);
    if (!bytes.subarray(0, 64).toString('latin1').startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) {
      throw new InvalidInputError('CHART.PROVENANCE_INVALID', 'The provenance file must be the PGP signed message that `helm package --sign` writes (<chart>-<version>.tgz.prov).');
    }
    return this.blobs.put(Readable.from([bytes]));
  }

  /** Records a received chart in the workspace: 409 CHART.EXISTS for an existing version unless `force`. */
  async publish(workspace: Workspace, received: ReceivedChart, provenance: BlobInfo | undefined, force: boolean, actor: string): Promise<ChartPublished> {
    const { metadata, blob } = received;
    const now = sqlTime(this.runtime.db, new Date());
    const row = {
      workspace: workspace.name,
      name: metadata.name,
      version: metadata.version,
      org: workspace.org,
      project: workspace.project,
      digest: blob.digest,
      size: blob.size,
      metadata: JSON.stringify(metadata),
      prov_digest: provenance?.digest ?? null,
      prov_size: provenance?.size ?? null,
      downloads: 0,
      created_by: actor,
      created_at: now,
    };
    const overwritten = await this.runtime.db.transaction(async (manager) => {
      const existing = (await manager.query('SELECT version FROM dockyard_charts WHERE workspace = ? AND name = ? AND version = ?', [
        workspace.name,
        metadata.name,
        metadata.version,
      ])) as unknown[];
      if (existing.length && !force) throw this.exists(metadata);
      if (existing.length) {
        await manager.query(
          'UPDATE dockyard_charts SET digest = ?, size = ?, metadata = ?, prov_digest = ?, prov_size = ?, created_by = ?, created_at = ? WHERE workspace = ? AND name = ? AND version = ?',
          [row.digest, row.size, row.metadata, row.prov_digest, row.prov_size, actor, now, workspace.name, metadata.name, metadata.version],
        );
        return true;
      }
      try {
        await manager.query(`INSERT INTO dockyard_charts (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map(() => '?').join(', ')})`, Object.values(row));
      } catch (error) {
        if (isDuplicate(error)) throw this.exists(metadata);
        throw error;
      }
      return false;
    });
    const event: ChartPublished = {
      workspace: workspace.name,
      org: workspace.org,
      project: workspace.project,
      name: metadata.name,
      version: metadata.version,
      digest: blob.digest,
      size: blob.size,
      provenance: provenance !== undefined,
      overwritten,
      publishedBy: actor,
    };
    await this.runtime.store.append(chartStream(workspace.name, metadata.name), 'any', [{ type: 'ChartPublished', data: event }], {
      actor,
      tenant: workspace.org,
    });
    return event;
  }

  /** Every chart version of the workspace (uploaded and OCI), by name, newest version first. */
  async list(workspace: string, name?: string): Promise<Map<string, ListedChart[]>> {
    const rows = await this.runtime.db.query<ChartRow[]>(
      `SELECT * FROM dockyard_charts WHERE workspace = ?${name === undefined ? '' : ' AND name = ?'}`,
      name === undefined ? [workspace] : [workspace, name],
    );
    const byName = new Map<string, ListedChart[]>();
    const seen = new Set<string>();
    const add = (listed: ListedChart) => {
      const key = `${listed.version.name}\u0000${listed.version.version}`;
      if (seen.has(key)) return;
      seen.add(key);
      const versions = byName.get(listed.version.name) ?? [];
      versions.push(listed);
      byName.set(listed.version.name, versions);
    };
    for (const row of rows) add(fromRow(row));
    for (const chart of await this.oci.list(workspace, name)) add(fromOci(chart));
    for (const versions of byName.values()) versions.sort((a, b) => newestFirst(a.version.version, b.version.version));
    return new Map([...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async versions(workspace: string, name: string): Promise<ListedChart[]> {
    const versions = (await this.list(workspace, name)).get(name);
    if (!versions?.length) throw chartNotFound(workspace, name);
    return versions;
  }

  /** One version; `latest` names the newest. */
  async version(workspace: string, name: string, version: string): Promise<ListedChart> {
    const versions = await this.versions(workspace, name);
    const found = version === 'latest' ? versions[0] : versions.find((listed) => listed.version.version === version);
    if (!found) throw chartNotFound(workspace, name, version);
    return found;
  }

  /** Helm's index.yaml of the workspace's repository. */
  async indexYaml(workspace: string): Promise<string> {
    const entries: Record<string, ChartVersion[]> = {};
    for (const [name, versions] of await this.list(workspace)) entries[name] = versions.map((listed) => listed.version);
    return stringify({ apiVersion: 'v1', entries, generated: new Date().toISOString() }, { lineWidth: 0 });
  }

  /** The package (or `.prov`) a file name of the index stands for. */
  async packageFile(workspace: string, file: string): Promise<{ listed: ListedChart; blob: string; provenance: boolean } | undefined> {
    const provenance = file.endsWith('.tgz.prov');
    for (const candidate of packageCandidates(file, provenance ? '.tgz.prov' : '.tgz')) {
      const versions = (await this.list(workspace, candidate.name)).get(candidate.name) ?? [];
      const listed = versions.find((entry) => entry.version.version === candidate.version);
      if (!listed) continue;
      if (!provenance) return { listed, blob: listed.blob, provenance };
      if (listed.provenance) return { listed, blob: listed.provenance, provenance };
    }
    return undefined;
  }

  async countDownload(workspace: string, name: string, version: string): Promise<void> {
    await this.runtime.db.query('UPDATE dockyard_charts SET downloads = downloads + 1 WHERE workspace = ? AND name = ? AND version = ?', [workspace, name, version]);
  }

  /**
   * Deletes an uploaded version. An OCI chart is deleted through /v2 (its manifest):
   * asking here answers 409 CHART.OCI saying so.
   */
  async delete(workspace: Workspace, name: string, version: string, actor: string): Promise<ChartDeleted> {
    const [row] = await this.runtime.db.query<ChartRow[]>('SELECT * FROM dockyard_charts WHERE workspace = ? AND name = ? AND version = ?', [
      workspace.name,
      name,
      version,
    ]);
    if (!row) {
      const oci = await this.oci.find(workspace.name, name, version);
      if (oci) {
        throw new ConflictError(
          'CHART.OCI',
          `${name} ${version} is a Helm OCI chart in ${oci.repository}:${oci.tag}; delete it through the registry (DELETE /v2/${oci.repository}/manifests/${oci.manifestDigest}).`,
        );
      }
      throw chartNotFound(workspace.name, name, version);
    }
    await this.runtime.db.query('DELETE FROM dockyard_charts WHERE workspace = ? AND name = ? AND version = ? AND digest = ?', [
      workspace.name,
      name,
      version,
      row.digest,
    ]);
    const event: ChartDeleted = { workspace: workspace.name, org: workspace.org, project: workspace.project, name, version, digest: row.digest, deletedBy: actor };
    await this.runtime.store.append(chartStream(workspace.name, name), 'any', [{ type: 'ChartDeleted', data: event }], { actor, tenant: workspace.org });
    return event;
  }

  private exists(metadata: ChartMetadata): ConflictError {
    return new ConflictError(
      'CHART.EXISTS',
      `${metadata.name} ${metadata.version} exists already in this repository: publish a new version, or upload again with ?force to overwrite it.`,
    );
  }
}

export function chartNotFound(workspace: string, name: string, version?: string): NotFoundError {
  return new NotFoundError(
    'CHART.NOT_FOUND',
    version === undefined ? `No chart ${JSON.stringify(name)} in workspace ${workspace}.` : `No version ${JSON.stringify(version)} of chart ${JSON.stringify(name)} in workspace ${workspace}.`,
  );
}

function fromRow(row: ChartRow): ListedChart {
  const metadata = JSON.parse(row.metadata) as ChartMetadata;
  return {
    version: {
      ...metadata,
      urls: [packageFileName(row.name, row.version)],
      created: new Date(row.created_at).toISOString(),
      digest: hexOf(row.digest),
    },
    source: 'upload',
    size: Number(row.size),
    blob: row.digest,
    provenance: row.prov_digest ?? undefined,
    downloads: Number(row.downloads),
  };
}

function fromOci(chart: OciChart): ListedChart {
  return {
    version: {
      ...chart.metadata,
      urls: [packageFileName(chart.metadata.name, chart.metadata.version)],
      created: chart.createdAt,
      digest: hexOf(chart.digest),
    },
    source: 'oci',
    size: chart.size,
    blob: chart.digest,
    provenance: chart.provenance?.digest,
    repository: chart.repository,
    tag: chart.tag,
  };
}

/** Helm's index digest is the hex of a sha256 without its algorithm. */
function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function isDuplicate(error: unknown): boolean {
  const driver = error as { code?: string; driverError?: { code?: string } };
  const code = driver.driverError?.code ?? driver.code ?? '';
  return code === 'ER_DUP_ENTRY' || code.startsWith('SQLITE_CONSTRAINT');
}

export { ChartInvalidError };
