/**
 * Workspace events (stream `workspace-<name>`, subject
 * `<prefix>.dockyard.workspace.<EventType>`). crew consumes them to answer registry
 * token requests: their shape is a contract, documented in docs/registry.md.
 */
export type WorkspaceVisibility = 'public' | 'private';
export const WORKSPACE_VISIBILITIES: readonly WorkspaceVisibility[] = ['public', 'private'];

export interface WorkspaceCreated {
  workspace: string;
  org: string;
  project: string;
  visibility: WorkspaceVisibility;
  description: string;
  createdBy: string;
}

export interface WorkspaceVisibilityChanged {
  workspace: string;
  visibility: WorkspaceVisibility;
}

export interface WorkspaceDescriptionChanged {
  workspace: string;
  description: string;
}

export interface WorkspaceDeleted {
  workspace: string;
}

export function workspaceStream(name: string): string {
  return `workspace-${name}`;
}
