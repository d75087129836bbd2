import { Inject, Injectable } from '@nestjs/common';
import { sqlTime } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import type { Workspace } from '../workspaces/workspaces.service';
import { WorkspacesService } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import { marks, upsert, type SqlRunner } from './registry-sql';
import { workspaceOf } from './names';

export interface RepositoryRow {
  name: string;
  workspace: string;
  org: string;
  project: string;
}

/**
 * Which repository holds which blob: the links that make a blob visible through a
 * repository, and the repositories themselves (created at their first blob or manifest).
 */
@Injectable()
export class RegistryMetadata {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly workspaces: WorkspacesService,
  ) {}

  get db() {
    return this.runtime.db;
  }

  time(date = new Date()): Date | string {
    return sqlTime(this.runtime.db, date);
  }

  async findRepository(name: string): Promise<RepositoryRow | undefined> {
    const [row] = await this.db.query<RepositoryRow[]>('SELECT name, workspace, org, project FROM dockyard_repositories WHERE name = ?', [name]);
    return row;
  }

  /** The workspace a push goes to; NAME_UNKNOWN when it does not exist. */
  async workspaceFor(repository: string): Promise<Workspace> {
    const workspace = await this.workspaces.find(workspaceOf(repository));
    if (!workspace) {
      throw new OciError('NAME_UNKNOWN', `workspace ${workspaceOf(repository)} does not exist: create it first (POST /api/v1/workspaces)`, {
        name: repository,
      });
    }
    return workspace;
  }

  /**
   * Creates the repository's row when it is missing; touches its update time. Its
   * organization and project are always the workspace's own, so usage is counted where
   * the workspace belongs now.
   */
  async ensureRepository(runner: SqlRunner, repository: string, workspace: Workspace, now = new Date()): Promise<void> {
    await upsert(
      runner,
      this.db.dialect,
      'dockyard_repositories',
      { name: repository, workspace: workspace.name, org: workspace.org, project: workspace.project, created_at: this.time(now), updated_at: this.time(now) },
      ['name'],
      ['workspace', 'org', 'project', 'updated_at'],
    );
  }

  /** Records a stored blob and links it to the repository. */
  async linkBlob(runner: SqlRunner, repository: string, workspace: Workspace, digest: string, size: number): Promise<void> {
    const now = this.time();
    await this.ensureRepository(runner, repository, workspace);
    await upsert(runner, this.db.dialect, 'dockyard_blobs', { digest, size, created_at: now }, ['digest']);
    await upsert(runner, this.db.dialect, 'dockyard_repository_blobs', { repository, digest, size, created_at: now }, ['repository', 'digest']);
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const linked = await this.linkedSize(repository, digest);
    if (linked === undefined) return false;
    await this.db.query('DELETE FROM dockyard_repository_blobs WHERE repository = ? AND digest = ?', [repository, digest]);
    return true;
  }

  /** The size of a blob linked to the repository, or undefined. */
  async linkedSize(repository: string, digest: string): Promise<number | undefined> {
    const [row] = await this.db.query<{ size: number | string }[]>('SELECT size FROM dockyard_repository_blobs WHERE repository = ? AND digest = ?', [
      repository,
      digest,
    ]);
    return row ? Number(row.size) : undefined;
  }

  /** Sizes of the given blobs linked to the repository, by digest. */
  async linkedSizes(repository: string, digests: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const unique = [...new Set(digests)];
    for (let start = 0; start < unique.length; start += 500) {
      const slice = unique.slice(start, start + 500);
      const rows = await this.db.query<{ digest: string; size: number | string }[]>(
        `SELECT digest, size FROM dockyard_repository_blobs WHERE repository = ? AND digest IN (${marks(slice.length)})`,
        [repository, ...slice],
      );
      for (const row of rows) found.set(row.digest, Number(row.size));
    }
    return found;
  }

  /**
   * Registry usage: the sum of the sizes of the distinct blobs (layers, configs and
   * manifests) linked to any repository of the organization (or of the project), and of
   * its charts, provenance files and binary artifacts.
   */
  async usage(org: string, project?: string): Promise<number> {
    const place = (table: string) => (project === undefined ? `${table}.org = ?` : `${table}.org = ? AND ${table}.project = ?`);
    const parameters = project === undefined ? [org] : [org, project];
    const [row] = await this.db.query<{ total: number | string | null }[]>(
      `SELECT SUM(size) AS total FROM (
         SELECT rb.digest, rb.size FROM dockyard_repository_blobs rb JOIN dockyard_repositories r ON r.name = rb.repository WHERE ${place('r')}
         UNION SELECT c.digest, c.size FROM dockyard_charts c WHERE ${place('c')}
         UNION SELECT c.prov_digest, c.prov_size FROM dockyard_charts c WHERE c.prov_digest IS NOT NULL AND ${place('c')}
         UNION SELECT b.digest, b.size FROM dockyard_binaries b WHERE ${place('b')}
       ) used`,
      [...parameters, ...parameters, ...parameters, ...parameters],
    );
    return Number(row?.total ?? 0);
  }

  /** Whether the blob is linked already somewhere in the organization (it then adds nothing to its usage). */
  async heldByOrg(org: string, digest: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      'SELECT 1 FROM dockyard_repository_blobs rb JOIN dockyard_repositories r ON r.name = rb.repository WHERE r.org = ? AND rb.digest = ? LIMIT 1',
      [org, digest],
    );
    return rows.length > 0;
  }
}
