import { DEFAULT_STAGES, withDefaultStages } from './default-stages';
import { validateWorkflow } from './workflow-validator';

const doc = (spec: Record<string, unknown>) => ({
  apiVersion: 'containerops.io/v1',
  kind: 'Workflow',
  metadata: { name: 'w', project: 'o/p' },
  spec,
});

describe('default stages', () => {
  it('are Source, Build, Test and Deploy, without actions', () => {
    expect(DEFAULT_STAGES).toEqual([
      { name: 'Source', actions: [] },
      { name: 'Build', actions: [] },
      { name: 'Test', actions: [] },
      { name: 'Deploy', actions: [] },
    ]);
    expect(Object.isFrozen(DEFAULT_STAGES[0].actions)).toBe(true);
  });

  it.each([{}, { stages: [] }])('fill a spec with %j', (spec) => {
    const filled = withDefaultStages(doc(spec));
    expect(filled.spec.stages).toEqual(DEFAULT_STAGES);
    const result = validateWorkflow(filled);
    expect(result.ok && result.workflow.spec.stages.map((stage) => stage.name)).toEqual(['Source', 'Build', 'Test', 'Deploy']);
  });

  it('give each workflow its own copies', () => {
    const first = withDefaultStages(doc({})) as unknown as { spec: { stages: Array<{ actions: unknown[] }> } };
    first.spec.stages[0].actions.push({ name: 'checkout' });
    expect(withDefaultStages(doc({})).spec).toEqual({ stages: DEFAULT_STAGES });
  });

  it('leave existing stages and odd documents alone', () => {
    const own = doc({ stages: [{ name: 'only', actions: [] }] });
    expect(withDefaultStages(own)).toBe(own);
    for (const odd of [null, [], 'x', { spec: null }, { spec: [] }, doc({ stages: 'x' })]) expect(withDefaultStages(odd)).toBe(odd);
  });

  it('do not change the document given', () => {
    const original = doc({ stages: [] });
    withDefaultStages(original);
    expect(original.spec.stages).toEqual([]);
  });
});
