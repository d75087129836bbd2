import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';

export interface RepositorySummary {
  /** Full name, `<workspace>/<repo>`. */
  name: string;
  /** The name inside the workspace (what follows `<workspace>/`). */
  repository: string;
  /** Manifests stored (tagged or not). */
  versions: number;
  tags: number;
  /** Manifest downloads (GET, not HEAD), all versions together. */
  pulls: number;
  /** Sum of the sizes of the distinct blobs (layers, configs, manifests) linked to the repository. */
  bytes: number;
  createdAt: string;
  updatedAt: string;
}

export interface TagSummary {
  tag: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  /** Manifest plus the blobs (or child manifests) it references. */
  size: number;
  /** When the manifest was first pushed. */
  createdAt: string;
  /** When the tag was last pointed at this digest. */
  updatedAt: string;
  /** Downloads of the manifest by this tag. */
  pulls: number;
}

export function repositoryNotFound(name: string): NotFoundError {
  return new NotFoundError('REPOSITORY.NOT_FOUND', `Repository ${name} does not exist in this workspace; list the workspace's repositories to see their names.`);
}

/** The read side of the image-management pages: repositories of a workspace and their tags. */
@Injectable()
export class RepositoriesService {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  async list(workspace: string): Promise<RepositorySummary[]> {
    const rows = await this.runtime.db.query<
      { name: string; created_at: Date | string; updated_at: Date | string; versions: number | string; pulls: number | string | null; tags: number | string; bytes: number | string | null }[]
    >(
      `SELECT r.name, r.created_at, r.updated_at,
        (SELECT COUNT(*) FROM dockyard_manifests m WHERE m.repository = r.name) AS versions,
        (SELECT SUM(m.pulls) FROM dockyard_manifests m WHERE m.repository = r.name) AS pulls,
        (SELECT COUNT(*) FROM dockyard_tags t WHERE t.repository = r.name) AS tags,
        (SELECT SUM(b.size) FROM dockyard_repository_blobs b WHERE b.repository = r.name) AS bytes
       FROM dockyard_repositories r WHERE r.workspace = ? ORDER BY r.name LIMIT 10000`,
      [workspace],
    );
    return rows.map((row) => ({
      name: row.name,
      repository: row.name.slice(workspace.length + 1),
      versions: Number(row.versions),
      tags: Number(row.tags),
      pulls: Number(row.pulls ?? 0),
      bytes: Number(row.bytes ?? 0),
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    }));
  }

  async tags(workspace: string, repository: string): Promise<TagSummary[]> {
    const name = `${workspace}/${repository}`;
    await this.require(name);
    const rows = await this.runtime.db.query<
      {
        tag: string;
        digest: string;
        media_type: string;
        artifact_type: string | null;
        config_media_type: string | null;
        total_size: number | string;
        created_at: Date | string;
        updated_at: Date | string;
        pulls: number | string;
      }[]
    >(
      `SELECT t.tag, t.digest, m.media_type, m.artifact_type, m.config_media_type, m.total_size, m.created_at, t.updated_at, t.pulls
       FROM dockyard_tags t JOIN dockyard_manifests m ON m.repository = t.repository AND m.digest = t.digest
       WHERE t.repository = ? ORDER BY t.tag LIMIT 10000`,
      [name],
    );
    return rows.map((row) => ({
      tag: row.tag,
      digest: row.digest,
      mediaType: row.media_type,
      artifactType: row.artifact_type ?? row.config_media_type,
      size: Number(row.total_size),
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
      pulls: Number(row.pulls),
    }));
  }

  async require(name: string): Promise<void> {
    const rows = await this.runtime.db.query<unknown[]>('SELECT 1 FROM dockyard_repositories WHERE name = ?', [name]);
    if (!rows.length) throw repositoryNotFound(name);
  }
}
