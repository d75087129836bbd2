import { Inject, Injectable } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import type { WorkspaceContents } from './workspaces.service';

/** What a workspace holds, counted in the registry's, the chart repository's and the artifacts' tables. */
@Injectable()
export class StoredWorkspaceContents implements WorkspaceContents {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  async describe(workspace: string): Promise<string | undefined> {
    const held: string[] = [];
    const count = async (sql: string, one: string, many: string) => {
      const [row] = await this.runtime.db.query<{ count: number | string }[]>(sql, [workspace]);
      const found = Number(row?.count ?? 0);
      if (found > 0) held.push(`${found} ${found === 1 ? one : many}`);
    };
    await count('SELECT COUNT(*) AS count FROM dockyard_repositories r WHERE r.workspace = ? AND EXISTS (SELECT 1 FROM dockyard_manifests m WHERE m.repository = r.name)', 'image repository', 'image repositories');
    await count('SELECT COUNT(*) AS count FROM dockyard_charts WHERE workspace = ?', 'chart version', 'chart versions');
    await count('SELECT COUNT(*) AS count FROM dockyard_binaries WHERE workspace = ?', 'binary artifact', 'binary artifacts');
    return held.length ? held.join(', ') : undefined;
  }

  async release(workspace: string): Promise<void> {
    await this.runtime.db.transaction(async (manager) => {
      const inWorkspace = 'IN (SELECT name FROM dockyard_repositories WHERE workspace = ?)';
      await manager.query(`DELETE FROM dockyard_repository_blobs WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query(`DELETE FROM dockyard_uploads WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query(`DELETE FROM dockyard_tags WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query(`DELETE FROM dockyard_manifest_blobs WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query(`DELETE FROM dockyard_manifest_children WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query(`DELETE FROM dockyard_manifests WHERE repository ${inWorkspace}`, [workspace]);
      await manager.query('DELETE FROM dockyard_repositories WHERE workspace = ?', [workspace]);
    });
  }
}
