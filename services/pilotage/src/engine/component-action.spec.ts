import { runnableAction } from './component-action';

describe('runnableAction', () => {
  const pinned = {
    component: 'default/greeter',
    version: '1.0.0',
    image: 'dockyard.example/ws/greeter@sha256:aa',
    digest: 'sha256:aa',
    command: ['sh', '-c', 'echo hi'],
    env: { STYLE: 'plain', KEEP: '1' },
    timeout: '5m',
    outputs: ['greeting'],
  };

  it('runs a component action with the pinned image, command, env defaults, timeout and outputs', () => {
    expect(runnableAction({ name: 'a', component: 'default/greeter@^1', env: { STYLE: 'warm' }, pinned })).toMatchObject({
      image: pinned.image,
      pullPolicy: 'IfNotPresent',
      command: ['sh', '-c', 'echo hi'],
      env: { STYLE: 'warm', KEEP: '1' },
      timeout: '5m',
      outputs: ['greeting'],
    });
  });

  it("lets the action's own command, timeout and resources win", () => {
    const action = runnableAction({ name: 'a', component: 'default/greeter@^1', command: ['true'], timeout: 10, resources: { memory: '64Mi' }, outputs: ['more'], pinned });
    expect(action).toMatchObject({ command: ['true'], timeout: 10, resources: { memory: '64Mi' }, outputs: ['greeting', 'more'] });
  });

  it('leaves image actions alone', () => {
    const action = { name: 'a', image: 'busybox', command: ['true'] };
    expect(runnableAction(action)).toBe(action);
  });
});
