import type { DockyardParts } from '../dockyard-parts';
import { CreateWorkspaces1764100000000 } from './1764100000000-create-workspaces.migration';
import { WorkspaceResolver } from './workspace-resolver';
import { WorkspacesController } from './workspaces.controller';
import { WorkspacesProjection } from './workspaces.projection';
import { WORKSPACE_CONTENTS, WorkspacesService } from './workspaces.service';
import { StoredWorkspaceContents } from './workspace-contents';

export const workspacesParts: DockyardParts = {
  controllers: [WorkspacesController],
  providers: [WorkspacesService, WorkspaceResolver, { provide: WORKSPACE_CONTENTS, useClass: StoredWorkspaceContents }],
  migrations: [CreateWorkspaces1764100000000],
  projections: () => [new WorkspacesProjection()],
};
