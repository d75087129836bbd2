import type { Principal } from '@co/auth';
import { NotFoundError } from '@co/common';
import type { ComponentsService, ResolvedComponentView } from './components.service';
import { validateWorkflowComponents, type ComponentActionUse } from './workflow-validation';

const principal = { kind: 'user', userId: 'u1', username: 'pilot' } as unknown as Principal;

function view(overrides: Partial<ResolvedComponentView> = {}): ResolvedComponentView {
  return {
    namespace: 'default',
    name: 'greeter',
    range: '^1',
    version: '1.2.0',
    pinnedImage: 'dockyard.example/ws/greeter@sha256:aa',
    imageDigest: 'sha256:aa',
    command: ['sh', '-c', "echo '[COUT] greeting = hello'"],
    env: { STYLE: 'plain' },
    overridable: { command: false, env: ['STYLE'] },
    inputs: { type: 'object', properties: { name: { type: 'string' }, times: { type: 'integer', minimum: 1 } }, required: ['name'], additionalProperties: false },
    outputs: { greeting: { type: 'string' } },
    timeout: null,
    resources: null,
    deprecated: false,
    deprecationMessage: null,
    ...overrides,
  };
}

function components(resolve: (namespace: string, name: string, range: string) => ResolvedComponentView): ComponentsService {
  return {
    resolve: async (_principal: Principal, namespace: string, name: string, range: string) => {
      if (name === 'missing') throw new NotFoundError('COMPONENT.NOT_FOUND', `Component ${namespace}/${name} does not exist, or you may not see it.`);
      return resolve(namespace, name, range);
    },
  } as unknown as ComponentsService;
}

const use = (path: string, extra: Partial<ComponentActionUse> = {}): ComponentActionUse => ({
  path,
  reference: 'default/greeter@^1',
  inputs: { name: 'world' },
  referencedOutputs: [],
  overridesCommand: false,
  envOverrides: [],
  ...extra,
});

describe('validateWorkflowComponents', () => {
  it('pins every action that resolves, and warns about deprecated versions', async () => {
    const result = await validateWorkflowComponents(components(() => view({ deprecated: true, deprecationMessage: 'use 2.x' })), principal, [
      use('$.spec.stages[0].actions[0]', { referencedOutputs: ['greeting'], envOverrides: ['STYLE'] }),
    ]);
    expect(result.errors).toEqual([]);
    expect(result.actions).toHaveLength(1);
    expect(result.actions[0].resolved.pinnedImage).toBe('dockyard.example/ws/greeter@sha256:aa');
    expect(result.actions[0].warnings).toEqual([expect.objectContaining({ path: '$.spec.stages[0].actions[0].component', code: 'COMPONENT.DEPRECATED', message: expect.stringContaining('use 2.x') })]);
  });

  it('reports every problem of every action at once, at its path', async () => {
    const result = await validateWorkflowComponents(components(() => view()), principal, [
      use('$.spec.stages[0].actions[0]', { inputs: { times: 0, extra: true } }),
      use('$.spec.stages[0].actions[1]', { referencedOutputs: ['farewell'], overridesCommand: true, envOverrides: ['OTHER', 'STYLE'] }),
      use('$.spec.stages[1].actions[0]', { reference: 'default/missing@1' }),
      use('$.spec.stages[1].actions[1]', { reference: 'Not A Reference' }),
    ]);
    expect(result.actions).toEqual([]);
    expect(result.errors.map((issue) => [issue.path, issue.code])).toEqual([
      ['$.spec.stages[0].actions[0].inputs.name', 'COMPONENT.INPUTS_INVALID'],
      ['$.spec.stages[0].actions[0].inputs.extra', 'COMPONENT.INPUTS_INVALID'],
      ['$.spec.stages[0].actions[0].inputs.times', 'COMPONENT.INPUTS_INVALID'],
      ['$.spec.stages[0].actions[1].outputs.farewell', 'COMPONENT.UNDECLARED_OUTPUT'],
      ['$.spec.stages[0].actions[1].command', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[1].env.OTHER', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[1].actions[0].component', 'COMPONENT.NOT_FOUND'],
      ['$.spec.stages[1].actions[1].component', 'COMPONENT.REFERENCE_INVALID'],
    ]);
  });

  it('reports a refused args override at args, not at command', async () => {
    const result = await validateWorkflowComponents(components(() => view()), principal, [
      use('$.spec.stages[0].actions[0]', { overridesCommand: true, commandFields: ['args'] }),
      use('$.spec.stages[0].actions[1]', { overridesCommand: true, commandFields: ['command', 'args'] }),
      use('$.spec.stages[0].actions[2]', { envOverrides: ['OTHER'] }),
    ]);
    expect(result.errors.map((issue) => [issue.path, issue.code])).toEqual([
      ['$.spec.stages[0].actions[0].args', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[1].args', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[1].command', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
      ['$.spec.stages[0].actions[2].env.OTHER', 'COMPONENT.OVERRIDE_NOT_ALLOWED'],
    ]);
    expect(result.errors[0].message).toMatch(/remove args\.$/);
    expect(result.errors[2].message).toMatch(/remove command\.$/);
    expect(result.errors[3].message).toMatch(/does not let actions set OTHER/);
  });

  it('names both fields when the caller only says that one of them is set', async () => {
    const result = await validateWorkflowComponents(components(() => view()), principal, [use('$.spec.stages[0].actions[0]', { overridesCommand: true })]);
    expect(result.errors.map((issue) => issue.path)).toEqual(['$.spec.stages[0].actions[0].command']);
    expect(result.errors[0].message).toMatch(/remove command and args\.$/);
  });

  it('allows command and args where the manifest opens the command', async () => {
    const result = await validateWorkflowComponents(components(() => view({ overridable: { command: true, env: [] } })), principal, [
      use('$.spec.stages[0].actions[0]', { overridesCommand: true, commandFields: ['command', 'args'] }),
    ]);
    expect(result.errors).toEqual([]);
  });

  it('does not check the schema at values that are expressions', async () => {
    const result = await validateWorkflowComponents(components(() => view()), principal, [
      use('$.spec.stages[0].actions[0]', { inputs: { name: '${params.who}', times: '${params.n}' } }),
      use('$.spec.stages[0].actions[1]', { inputs: { name: 'x', times: 'three' } }),
    ]);
    expect(result.errors.map((issue) => issue.path)).toEqual(['$.spec.stages[0].actions[1].inputs.times']);
  });

  it('refuses more actions than one workflow can hold', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => use(`$.spec.stages[0].actions[${i}]`));
    await expect(validateWorkflowComponents(components(() => view()), principal, many)).rejects.toMatchObject({ code: 'REQUEST.INVALID' });
  });
});
