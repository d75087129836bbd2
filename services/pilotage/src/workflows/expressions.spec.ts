import {
  ExpressionError,
  findReferences,
  interpolate,
  type InterpolationContext,
  parseInputPath,
  parseOutputPath,
  parseTemplate,
  UnresolvedReferenceError,
} from './expressions';

describe('findReferences', () => {
  it('finds every kind of reference, mixed with text', () => {
    expect(findReferences('build ${BUILD_ID} of ${params.version} from ${stages.produce.left.outputs.word}!')).toEqual([
      { kind: 'build-id', raw: '${BUILD_ID}' },
      { kind: 'param', name: 'version', raw: '${params.version}' },
      { kind: 'output', stage: 'produce', action: 'left', key: 'word', raw: '${stages.produce.left.outputs.word}' },
    ]);
  });

  it('allows whitespace inside the braces', () => {
    expect(findReferences('${ params.x }')).toEqual([{ kind: 'param', name: 'x', raw: '${ params.x }' }]);
  });

  it('accepts names with dashes and underscores', () => {
    expect(findReferences('${stages.build-1.go_test.outputs._key2}')).toEqual([
      { kind: 'output', stage: 'build-1', action: 'go_test', key: '_key2', raw: '${stages.build-1.go_test.outputs._key2}' },
    ]);
  });

  it('treats $${ as a literal ${ and a lone $ as text', () => {
    expect(findReferences('echo $${HOME} $CO_DATA $ $$')).toEqual([]);
    expect(parseTemplate('$${params.x}${params.y}').parts).toEqual(['${params.x}', { kind: 'param', name: 'y', raw: '${params.y}' }]);
  });

  it.each([
    '${foo}',
    '${stages.a.b}',
    '${params.}',
    '${}',
    '${build_id}',
    '${stages.a.b.inputs.c}',
    '${params.a.b}',
    '${stages.a.b.outputs.c-d}',
  ])('rejects the unknown expression %s', (text) => {
    expect(() => findReferences(`x ${text} y`)).toThrow(ExpressionError);
    expect(() => findReferences(text)).toThrow(/^Unknown expression/);
  });

  it('rejects an expression that is not closed', () => {
    expect(() => findReferences('a ${params.x')).toThrow(
      'Expression ${params.x is not closed with }; close it, or write $${ for a literal ${',
    );
  });

  it('collects every malformed expression of a string', () => {
    const { parts, problems } = parseTemplate('${a} ${params.ok} ${b');
    expect(problems.map((problem) => problem.raw)).toEqual(['${a}', '${b']);
    expect(parts).toEqual(['${a} ', { kind: 'param', name: 'ok', raw: '${params.ok}' }, ' ${b']);
  });
});

describe('link paths', () => {
  it('reads an output path bare or wrapped in ${...}', () => {
    const expected = { kind: 'output', stage: 's', action: 'a', key: 'k', raw: '${stages.s.a.outputs.k}' };
    expect(parseOutputPath('stages.s.a.outputs.k')).toEqual(expected);
    expect(parseOutputPath('${stages.s.a.outputs.k}')).toEqual(expected);
    expect(parseOutputPath('stages.s.a.inputs.k')).toBeUndefined();
    expect(parseOutputPath('${stages.s.a.outputs.k')).toBeUndefined();
  });

  it('reads an input path', () => {
    expect(parseInputPath('stages.consume.join.inputs.a')).toEqual({ stage: 'consume', action: 'join', key: 'a' });
    expect(parseInputPath('stages.consume.join.outputs.a')).toBeUndefined();
    expect(parseInputPath('stages.consume.join.inputs.a.b')).toBeUndefined();
  });
});

describe('interpolate', () => {
  const outputs: Record<string, string> = { 'produce.left.word': 'hello', 'produce.right.word': 'world' };
  const context: InterpolationContext = {
    buildId: 42,
    params: { version: '1.2.0', debug: false, replicas: 3 },
    outputs: (stage, action, key) => outputs[`${stage}.${action}.${key}`],
  };

  it('replaces expressions deeply in objects and arrays, leaving keys and other values alone', () => {
    const value = {
      a: '${stages.produce.left.outputs.word}-${stages.produce.right.outputs.word}',
      list: ['#${BUILD_ID}', 7, null, true, { deep: 'v${params.version}' }],
      '${params.version}': 'key stays',
    };
    expect(interpolate(value, context)).toEqual({
      a: 'hello-world',
      list: ['#42', 7, null, true, { deep: 'v1.2.0' }],
      '${params.version}': 'key stays',
    });
  });

  it('keeps a string a string when it is exactly one expression', () => {
    expect(interpolate('${BUILD_ID}', context)).toBe('42');
    expect(interpolate('${params.debug}', context)).toBe('false');
    expect(interpolate('${params.replicas}', context)).toBe('3');
  });

  it('writes $${ as ${', () => expect(interpolate('echo $${HOME} ${BUILD_ID}', context)).toBe('echo ${HOME} 42'));

  it('does not change its argument', () => {
    const value = { a: ['${BUILD_ID}'] };
    interpolate(value, context);
    expect(value).toEqual({ a: ['${BUILD_ID}'] });
  });

  it('keeps a __proto__ key as data', () => {
    const value: unknown = JSON.parse('{"__proto__": {"polluted": "${BUILD_ID}"}}');
    const result = interpolate(value, context) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(result, '__proto__')?.value).toEqual({ polluted: '42' });
  });

  it('fails on a missing output, naming it', () => {
    expect(() => interpolate('${stages.produce.left.outputs.other}', context)).toThrow(
      new UnresolvedReferenceError({
        kind: 'output',
        stage: 'produce',
        action: 'left',
        key: 'other',
        raw: '${stages.produce.left.outputs.other}',
      }).message,
    );
    expect(() => interpolate('${stages.produce.left.outputs.other}', context)).toThrow('action produce.left did not produce output other');
  });

  it('fails on a missing parameter, including names found on Object.prototype', () => {
    expect(() => interpolate('${params.nope}', context)).toThrow(UnresolvedReferenceError);
    expect(() => interpolate('${params.constructor}', context)).toThrow(UnresolvedReferenceError);
  });

  it('fails on a malformed expression', () => expect(() => interpolate(['${foo}'], context)).toThrow(ExpressionError));
});

describe('secret references', () => {
  it('reads ${{ secrets.NAME }} with or without inner spaces, mixed with text', () => {
    expect(findReferences('Bearer ${{ secrets.TOKEN }} and ${{secrets.other_1}}')).toEqual([
      { kind: 'secret', name: 'TOKEN', raw: '${{ secrets.TOKEN }}' },
      { kind: 'secret', name: 'other_1', raw: '${{secrets.other_1}}' },
    ]);
  });

  it('refuses other double-brace expressions and an unclosed one, with a hint', () => {
    expect(() => findReferences('${{ params.x }}')).toThrow(/only double-brace expression is \$\{\{ secrets.<NAME> \}\}/);
    expect(() => findReferences('${{ secrets.X }')).toThrow(/not closed with \}\}/);
    expect(parseTemplate('$${{ secrets.X }}').parts).toEqual(['${{ secrets.X }}']);
  });

  it('interpolates given secrets, "" for a declared one not given, and leaves them unresolved without a secrets context', () => {
    const context = { buildId: 1, params: {}, outputs: () => undefined };
    expect(interpolate({ A: 'x-${{ secrets.S }}', B: '${{ secrets.OPTIONAL }}' }, { ...context, secrets: { S: 'hunter22' } })).toEqual({ A: 'x-hunter22', B: '' });
    expect(() => interpolate('${{ secrets.S }}', context)).toThrow(UnresolvedReferenceError);
  });
});
