import type { nucleus } from '@co/proto';
import { componentUses, pinComponents } from './component-pinning';
import { readWorkflowDocument } from './workflow-input';

const document = (stages: unknown[]) =>
  readWorkflowDocument({ apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name: 'w', project: 'default/admin' }, spec: { stages } }, 'object', {
    fillDefaultStages: false,
  });

const pinnedAction = (path: string): nucleus.PinnedComponentAction => ({
  path,
  namespace: 'default',
  name: 'greeter',
  version: '1.2.0',
  pinnedImage: 'dockyard.example/ws/greeter@sha256:aa',
  imageDigest: 'sha256:aa',
  command: ['sh', '-c', 'echo hi'],
  env: { STYLE: 'plain' },
  timeout: '30',
  resourcesJson: '',
  outputs: { greeting: 'string' },
  warnings: [],
});

describe('component pinning', () => {
  const workflow = document([
    { name: 'a', actions: [{ name: 'greet', component: 'default/greeter@^1', inputs: { name: 'x' }, env: { STYLE: 'warm' } }] },
    { name: 'b', actions: [{ name: 'use', image: 'busybox', command: ['echo', '${stages.a.greet.outputs.greeting}'] }] },
  ]);

  it('sends nucleus every component action with its inputs, referenced outputs and overrides', () => {
    expect(componentUses(workflow)).toEqual([
      {
        path: '$.spec.stages[0].actions[0]',
        reference: 'default/greeter@^1',
        inputsJson: '{"name":"x"}',
        referencedOutputs: ['greeting'],
        overridesCommand: false,
        envOverrides: ['STYLE'],
        commandOverrides: [],
      },
    ]);
  });

  it('says which of command and args an action overrides', () => {
    const uses = componentUses(
      document([
        {
          name: 'a',
          actions: [
            { name: 'both', component: 'default/greeter@^1', command: ['sh'], args: ['-c', 'true'] },
            { name: 'args', component: 'default/greeter@^1', args: ['--loud'] },
          ],
        },
      ]),
    );
    expect(uses.map((use) => [use.overridesCommand, use.commandOverrides])).toEqual([
      [true, ['command', 'args']],
      [true, ['args']],
    ]);
  });

  it('pins what nucleus resolved into the document, and passes warnings on', async () => {
    const warning = { path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.DEPRECATED', message: 'deprecated' };
    const validator = { validateWorkflow: jest.fn(async () => ({ actions: [{ ...pinnedAction('$.spec.stages[0].actions[0]'), warnings: [warning] }], errors: [] })) };
    const pinned = await pinComponents(workflow, validator, 'Bearer t');
    expect(validator.validateWorkflow).toHaveBeenCalledWith({ actions: componentUses(workflow) }, 'Bearer t');
    expect(pinned.warnings).toEqual([warning]);
    expect(pinned.workflow.spec.stages[0].actions[0].pinned).toEqual({
      component: 'default/greeter',
      version: '1.2.0',
      image: 'dockyard.example/ws/greeter@sha256:aa',
      digest: 'sha256:aa',
      command: ['sh', '-c', 'echo hi'],
      env: { STYLE: 'plain' },
      timeout: 30,
      outputs: ['greeting'],
    });
    expect(pinned.workflow.spec.stages[1].actions[0].pinned).toBeUndefined();
  });

  it("refuses the workflow with nucleus' issues", async () => {
    const errors = [{ path: '$.spec.stages[0].actions[0].inputs.name', code: 'COMPONENT.INPUTS_INVALID', message: 'must be string' }];
    await expect(pinComponents(workflow, { validateWorkflow: async () => ({ actions: [], errors }) }, undefined)).rejects.toMatchObject({
      code: 'WORKFLOW.INVALID',
      details: { issues: errors },
    });
  });

  it('does not ask nucleus for a workflow without component actions', async () => {
    const plain = document([{ name: 'a', actions: [{ name: 'x', image: 'busybox' }] }]);
    const validator = { validateWorkflow: jest.fn() };
    expect((await pinComponents(plain, validator, undefined)).workflow).toBe(plain);
    expect(validator.validateWorkflow).not.toHaveBeenCalled();
  });

  it('drops a pinned block sent back in a document: it is resolved again', () => {
    const sent = document([{ name: 'a', actions: [{ name: 'greet', component: 'default/greeter@^1', pinned: { image: 'evil@sha256:bb' } }] }]);
    expect(sent.spec.stages[0].actions[0].pinned).toBeUndefined();
  });
});
