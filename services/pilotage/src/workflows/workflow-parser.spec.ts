import { InvalidInputError } from '@co/common';
import { MAX_YAML_ALIASES, MAX_YAML_DEPTH, parseWorkflowText, WorkflowParseError } from './workflow-parser';

function parseError(text: string, contentType: 'yaml' | 'json'): WorkflowParseError {
  try {
    parseWorkflowText(text, contentType);
  } catch (error) {
    if (error instanceof WorkflowParseError) return error;
    throw error;
  }
  throw new Error('expected a parse error');
}

describe('parseWorkflowText', () => {
  it('reads YAML and JSON into the same value', () => {
    const yaml = 'apiVersion: containerops.io/v1\nspec:\n  stages: [{name: a, actions: []}]\n  concurrency: 2\n';
    const json = '{"apiVersion": "containerops.io/v1", "spec": {"stages": [{"name": "a", "actions": []}], "concurrency": 2}}';
    expect(parseWorkflowText(yaml, 'yaml')).toEqual({
      apiVersion: 'containerops.io/v1',
      spec: { stages: [{ name: 'a', actions: [] }], concurrency: 2 },
    });
    expect(parseWorkflowText(json, 'json')).toEqual(parseWorkflowText(yaml, 'yaml'));
  });

  it('uses YAML 1.2 core types: yes stays a string, no dates, no binary', () => {
    expect(parseWorkflowText('a: yes\nb: 2024-01-01\nc: !!binary aGVsbG8=\nd: 010\n', 'yaml')).toEqual({
      a: 'yes',
      b: '2024-01-01',
      c: 'aGVsbG8=',
      d: 10,
    });
  });

  it('reports a YAML syntax error with line and column', () => {
    const error = parseError('spec:\n  stages: [a, b\nmetadata: {}\n', 'yaml');
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('WORKFLOW.PARSE_ERROR');
    expect(error.httpStatus).toBe(400);
    expect(error.issues[0]).toMatchObject({ path: '$', code: 'WORKFLOW.PARSE_ERROR', line: 3, column: 1 });
    expect(error.issues[0].message).toMatch(/^Invalid YAML at line 3, column 1: /);
    expect(error.details).toEqual({ issues: error.issues });
  });

  it('rejects duplicate keys in YAML', () => {
    const error = parseError('metadata:\n  name: a\n  name: b\n', 'yaml');
    expect(error.issues).toEqual([
      {
        path: '$',
        code: 'WORKFLOW.PARSE_ERROR',
        line: 3,
        column: 3,
        message: 'Invalid YAML at line 3, column 3: Map keys must be unique. Remove or rename the repeated key.',
      },
    ]);
  });

  it('rejects several YAML documents in one text', () => {
    expect(parseError('a: 1\n---\nb: 2\n', 'yaml').message).toMatch(/Send one workflow per request\.$/);
  });

  it('rejects alias bombs', () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (const [i, name] of [...'bcdefghi'].entries()) {
      const previous = 'abcdefghi'[i];
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    expect(parseError(levels.join('\n'), 'yaml').message).toMatch(/^Invalid YAML: Excessive alias count/);
  });

  it('still reads a few aliases', () => {
    const text = `base: &base {image: busybox}\nlist: [${Array(MAX_YAML_ALIASES / 2)
      .fill('*base')
      .join(', ')}]\n`;
    expect((parseWorkflowText(text, 'yaml') as { list: unknown[] }).list).toHaveLength(MAX_YAML_ALIASES / 2);
  });

  it('rejects an alias without its anchor', () => {
    expect(parseError('a: *missing\n', 'yaml').message).toMatch(/^Invalid YAML: Unresolved alias/);
  });

  it('keeps a __proto__ key as data', () => {
    const value = parseWorkflowText('__proto__: {polluted: true}\n', 'yaml') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
  });

  it('refuses deeply nested YAML before composing it', () => {
    expect(parseError(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'yaml').issues).toEqual([
      {
        path: '$',
        code: 'WORKFLOW.PARSE_ERROR',
        line: 1,
        column: 4 + MAX_YAML_DEPTH,
        message: `Invalid YAML at line 1, column ${4 + MAX_YAML_DEPTH}: collections nest deeper than ${MAX_YAML_DEPTH} levels; flatten the document.`,
      },
    ]);
    expect(parseError(`a: ${'['.repeat(100_000)}`, 'yaml').message).toMatch(/nest deeper than/);
    const block = Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    // The top mapping is level 0, so the first one too deep starts on line 66.
    expect(parseError(block, 'yaml').issues[0]).toMatchObject({ line: MAX_YAML_DEPTH + 2, column: MAX_YAML_DEPTH + 2 });
    const sequences = `${'- '.repeat(5000)}x`;
    expect(parseError(sequences, 'yaml').message).toMatch(/nest deeper than/);
  });

  it('reads nesting up to the limit', () => {
    const value = parseWorkflowText(`a: ${'['.repeat(MAX_YAML_DEPTH - 1)}${']'.repeat(MAX_YAML_DEPTH - 1)}`, 'yaml');
    expect(JSON.stringify(value)).toBe(`{"a":${'['.repeat(MAX_YAML_DEPTH - 1)}${']'.repeat(MAX_YAML_DEPTH - 1)}}`);
  });

  it('reports a JSON syntax error with line and column where the runtime gives a position', () => {
    const error = parseError('{\n  "spec": {}\n}\n}', 'json');
    expect(error.issues).toEqual([
      {
        path: '$',
        code: 'WORKFLOW.PARSE_ERROR',
        line: 4,
        column: 1,
        message: 'Invalid JSON at line 4, column 1: Unexpected non-whitespace character after JSON at position 17.',
      },
    ]);
    expect(error.code).toBe('WORKFLOW.PARSE_ERROR');
  });

  it('reports a JSON syntax error with the text around it otherwise', () => {
    const error = parseError('{\n  "spec": {\n    "stages": [,]\n  }\n}', 'json');
    expect(error.issues[0]).toEqual({
      path: '$',
      code: 'WORKFLOW.PARSE_ERROR',
      message: expect.stringMatching(/^Invalid JSON: .*"stages": \[,\]/s),
    });
  });

  it('accepts a JSON text with a byte order mark', () => {
    expect(parseWorkflowText('\uFEFF{"a": 1}', 'json')).toEqual({ a: 1 });
  });

  it.each([
    ['', 'yaml'],
    ['  \n', 'json'],
    ['# only a comment\n', 'yaml'],
  ] as const)('rejects the empty document %j', (text, contentType) => {
    expect(parseError(text, contentType).message).toBe('The workflow document is empty; send a workflow in YAML or JSON.');
  });
});
