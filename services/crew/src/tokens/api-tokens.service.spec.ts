import { InvalidInputError } from '@co/common';
import { checkScopes } from './api-tokens.service';

describe('checkScopes', () => {
  it('keeps known actions and org/project references, sorted and without repeats', () => {
    expect(checkScopes(undefined)).toEqual({});
    expect(checkScopes({ actions: ['workflow:view', 'image:pull', 'workflow:view'], projects: ['acme/web', 'acme/api'] })).toEqual({
      actions: ['image:pull', 'workflow:view'],
      projects: ['acme/api', 'acme/web'],
    });
  });

  it.each([
    [{ actions: ['workflow:fly'] }],
    [{ actions: ['workflow'] }],
    [{ actions: [] }],
    [{ projects: [] }],
    [{ projects: ['acme'] }],
    [{ projects: ['Acme/web'] }],
    [{ projects: ['acme/web/extra'] }],
  ])('refuses %j with TOKEN.INVALID_SCOPE', (scopes) => {
    expect(() => checkScopes(scopes)).toThrow(InvalidInputError);
    try {
      checkScopes(scopes);
    } catch (error) {
      expect((error as InvalidInputError).code).toBe('TOKEN.INVALID_SCOPE');
    }
  });
});
