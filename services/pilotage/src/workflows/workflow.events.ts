import { createHash } from 'node:crypto';
import type { WorkflowDocument } from './workflow-definition';

/** Events of the workflow aggregate (stream `workflow-<id>`). */
export interface WorkflowCreated {
  workflowId: string;
  project: string;
  name: string;
  definition: WorkflowDocument;
  /** The workflow this one was copied from. */
  copiedFrom?: string;
  createdBy?: string;
}

export interface WorkflowRevised {
  revision: number;
  definition: WorkflowDocument;
  revisedBy?: string;
}

export type WorkflowToggled = Record<string, never>;

export interface WorkflowDeleted {
  /** Runs stopped because the delete was forced. */
  stoppedRuns?: string[];
}

export interface WorkflowEventMap {
  WorkflowCreated: WorkflowCreated;
  WorkflowRevised: WorkflowRevised;
  WorkflowActivated: WorkflowToggled;
  WorkflowDeactivated: WorkflowToggled;
  WorkflowDeleted: WorkflowDeleted;
}

export type WorkflowEvent = { [K in keyof WorkflowEventMap]: { type: K; data: WorkflowEventMap[K] } }[keyof WorkflowEventMap];

/**
 * A workflow name is unique in its project: the name's own stream
 * (`workflowname-<hash>`) is claimed with an expected version, so of two concurrent
 * creates exactly one wins.
 */
export interface WorkflowNameClaimed {
  workflowId: string;
  project: string;
  name: string;
}

export interface WorkflowNameReleased {
  workflowId: string;
}

export function workflowStreamId(id: string): string {
  return `workflow-${id}`;
}

export function workflowNameStreamId(project: string, name: string): string {
  return `workflowname-${createHash('sha256').update(`${project}/${name}`).digest('hex').slice(0, 40)}`;
}

export interface WorkflowState {
  id: string;
  version: number;
  project: string;
  name: string;
  revision: number;
  definition: WorkflowDocument;
  active: boolean;
  deleted: boolean;
  createdBy?: string;
  copiedFrom?: string;
  createdAt: string;
  updatedAt: string;
}

export function evolveWorkflow(
  state: WorkflowState | undefined,
  event: WorkflowEvent & { streamVersion: number; occurredAt: Date },
): WorkflowState {
  const at = event.occurredAt.toISOString();
  if (event.type === 'WorkflowCreated') {
    return {
      id: event.data.workflowId,
      version: event.streamVersion,
      project: event.data.project,
      name: event.data.name,
      revision: 1,
      definition: event.data.definition,
      active: true,
      deleted: false,
      createdBy: event.data.createdBy,
      copiedFrom: event.data.copiedFrom,
      createdAt: at,
      updatedAt: at,
    };
  }
  if (!state) throw new Error('a workflow stream must start with WorkflowCreated');
  const next = { ...state, version: event.streamVersion, updatedAt: at };
  switch (event.type) {
    case 'WorkflowRevised':
      return { ...next, revision: event.data.revision, definition: event.data.definition };
    case 'WorkflowActivated':
      return { ...next, active: true };
    case 'WorkflowDeactivated':
      return { ...next, active: false };
    case 'WorkflowDeleted':
      return { ...next, deleted: true, active: false };
  }
}
