import { parseScopes } from './registry-scope';

describe('parseScopes', () => {
  it('reads repository scopes, repeated or space-separated, and merges the same repository', () => {
    expect(parseScopes(['repository:acme/web:pull,push', 'repository:acme/api:pull repository:acme/web:delete'])).toEqual([
      { name: 'acme/web', workspace: 'acme', actions: ['pull', 'push', 'delete'] },
      { name: 'acme/api', workspace: 'acme', actions: ['pull'] },
    ]);
  });

  it('maps * to every image action and drops unknown actions', () => {
    expect(parseScopes(['repository:ws/a/b:*'])).toEqual([{ name: 'ws/a/b', workspace: 'ws', actions: ['pull', 'push', 'delete'] }]);
    expect(parseScopes(['repository:ws/app:pull,admin'])).toEqual([{ name: 'ws/app', workspace: 'ws', actions: ['pull'] }]);
  });

  it('accepts a resource class and ignores other resource types and malformed scopes', () => {
    expect(parseScopes(['repository(plugin):ws/app:pull'])).toEqual([{ name: 'ws/app', workspace: 'ws', actions: ['pull'] }]);
    expect(parseScopes(['registry:catalog:*', 'repository:app:pull', 'repository:ws/App:pull', 'repository:ws/app', 'nonsense', ''])).toEqual([]);
  });

  it('reads at most 20 scopes', () => {
    const many = Array.from({ length: 30 }, (_, i) => `repository:ws/r${i}:pull`);
    expect(parseScopes(many)).toHaveLength(20);
  });
});
