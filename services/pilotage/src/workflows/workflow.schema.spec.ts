import Ajv2020 from 'ajv/dist/2020';
import { WORKFLOW_SCHEMA, WORKFLOW_SCHEMA_ID } from './workflow.schema';

describe('WORKFLOW_SCHEMA', () => {
  it('is a valid draft 2020-12 schema under ajv strict mode', () => {
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true });
    expect(ajv.validateSchema(WORKFLOW_SCHEMA)).toBe(true);
    expect(() => ajv.compile(WORKFLOW_SCHEMA)).not.toThrow();
  });

  it('is published with its identity', () => {
    expect(WORKFLOW_SCHEMA.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(WORKFLOW_SCHEMA.$id).toBe('https://containerops.io/schemas/workflow/v1');
    expect(WORKFLOW_SCHEMA_ID).toBe(WORKFLOW_SCHEMA.$id);
  });

  it('is plain JSON (it is served as is)', () => {
    expect(JSON.parse(JSON.stringify(WORKFLOW_SCHEMA))).toEqual(WORKFLOW_SCHEMA);
  });

  it('closes every object that has declared properties', () => {
    const open: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (Array.isArray(node)) return node.forEach((item, i) => visit(item, `${path}/${i}`));
      if (node === null || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      if (schema.properties && schema.additionalProperties !== false && !path.includes('dependentSchemas')) open.push(path);
      for (const [key, value] of Object.entries(schema)) visit(value, `${path}/${key}`);
    };
    visit(WORKFLOW_SCHEMA, '#');
    expect(open).toEqual([]);
  });

  it('describes the fields users write', () => {
    const { action } = WORKFLOW_SCHEMA.$defs;
    expect(action.properties.outputs.description).toMatch(/COUT/);
    expect(WORKFLOW_SCHEMA.properties.spec.properties.concurrency.description).toMatch(/1 to 100/);
  });
});
