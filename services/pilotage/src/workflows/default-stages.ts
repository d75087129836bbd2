import type { StageSpec } from './workflow-definition';

/** The stages a workflow starts with when it is created without any, as in the DevOps manual. */
export const DEFAULT_STAGE_NAMES = ['Source', 'Build', 'Test', 'Deploy'] as const;

export const DEFAULT_STAGES = Object.freeze(DEFAULT_STAGE_NAMES.map((name) => Object.freeze({ name, actions: Object.freeze([]) })));

/** Fresh copies, so that a caller adding actions never changes the defaults. */
export function defaultStages(): StageSpec[] {
  return DEFAULT_STAGE_NAMES.map((name) => ({ name, actions: [] }));
}

/**
 * Gives a workflow document the default stages when `spec.stages` is absent or empty; anything
 * else (including a document that is not an object) comes back unchanged, for the validator to judge.
 */
export function withDefaultStages<T>(doc: T): T {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return doc;
  const spec: unknown = (doc as { spec?: unknown }).spec;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return doc;
  const stages: unknown = (spec as { stages?: unknown }).stages;
  if (stages !== undefined && !(Array.isArray(stages) && stages.length === 0)) return doc;
  return { ...doc, spec: { ...spec, stages: defaultStages() } };
}
