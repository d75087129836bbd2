import type { ActionSpec } from '../workflows/workflow-definition';

/**
 * The action the engine runs. A component action runs like an image action with what
 * its revision pinned when it was saved: the image by digest (pulled when missing), the
 * component's command unless the action replaces it, the component's environment
 * defaults under the action's `env`, the component's timeout and resources unless the
 * action sets its own, and the component's declared outputs. Image actions are returned
 * as they are.
 */
export function runnableAction(action: ActionSpec): ActionSpec {
  const pinned = action.pinned;
  if (action.component === undefined || !pinned) return action;
  return {
    ...action,
    image: pinned.image,
    pullPolicy: 'IfNotPresent',
    command: action.command ?? pinned.command,
    env: { ...pinned.env, ...(action.env ?? {}) },
    timeout: action.timeout ?? pinned.timeout,
    resources: action.resources ?? pinned.resources,
    outputs: [...new Set([...pinned.outputs, ...(action.outputs ?? [])])],
  };
}
