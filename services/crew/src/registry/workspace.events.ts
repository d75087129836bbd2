/**
 * dockyard's workspace events, as crew consumes them from the bus (subject
 * `<prefix>.dockyard.workspace.<EventType>`, body: the outbox relay's EventEnvelope,
 * stream `workspace-<id>`). Documented in docs/security.md; dockyard publishes exactly these.
 */
export type WorkspaceVisibility = 'public' | 'private';

export interface WorkspaceCreated {
  workspace: string;
  org: string;
  project: string;
  visibility: WorkspaceVisibility;
}

export interface WorkspaceVisibilityChanged {
  workspace: string;
  visibility: WorkspaceVisibility;
}

export interface WorkspaceDeleted {
  workspace: string;
}
