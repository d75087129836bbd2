import { InvalidInputError, yamlTooDeep } from '@co/common';
import { LineCounter, parseDocument } from 'yaml';
import type { ValidationIssue } from './workflow-definition';
import { WorkflowIssueCodes } from './workflow-validator';

/** Aliases a YAML document may expand while being read; more is taken for an alias bomb. */
export const MAX_YAML_ALIASES = 100;
/**
 * Collections a YAML document may nest. The yaml package composes documents recursively, and
 * running out of stack there can bring the process down instead of throwing, so deeper texts are
 * refused before composing. Workflows nest about a dozen levels.
 */
export const MAX_YAML_DEPTH = 64;
/** Syntax errors reported for one document; after the first few the rest are mostly echoes. */
const MAX_SYNTAX_ERRORS = 10;
const EMPTY = 'The workflow document is empty; send a workflow in YAML or JSON.';

export interface ParseIssue extends ValidationIssue {
  /** 1-based, when the parser knows where the problem is. */
  line?: number;
  column?: number;
}

/** A workflow text that is not valid YAML or JSON; answered as 400 `WORKFLOW.PARSE_ERROR`. */
export class WorkflowParseError extends InvalidInputError {
  constructor(readonly issues: ParseIssue[]) {
    super(WorkflowIssueCodes.PARSE_ERROR, issues[0].message, { issues });
  }
}

function parseIssue(message: string, where?: { line: number; col: number }): ParseIssue {
  const at = where && where.line > 0 ? { line: where.line, column: where.col } : {};
  return { path: '$', code: WorkflowIssueCodes.PARSE_ERROR, message, ...at };
}

function checkYamlDepth(text: string): void {
  const where = yamlTooDeep(text, MAX_YAML_DEPTH);
  if (!where) return;
  throw new WorkflowParseError([
    parseIssue(`Invalid YAML at line ${where.line}, column ${where.col}: collections nest deeper than ${MAX_YAML_DEPTH} levels; flatten the document.`, where),
  ]);
}

function parseYaml(text: string): unknown {
  checkYamlDepth(text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    stringKeys: true,
    // Plain JSON data only: no !!binary, !!timestamp or !!set, no merge keys.
    resolveKnownTags: false,
    merge: false,
  });
  if (doc.errors.length > 0) {
    throw new WorkflowParseError(
      doc.errors.slice(0, MAX_SYNTAX_ERRORS).map((error) => {
        const where = lineCounter.linePos(error.pos[0]);
        const fix =
          error.code === 'DUPLICATE_KEY'
            ? ' Remove or rename the repeated key.'
            : error.code === 'MULTIPLE_DOCS'
              ? ' Send one workflow per request.'
              : '';
        // The yaml package's advice for several documents names its own API; ours is to send one.
        const message = error.code === 'MULTIPLE_DOCS' ? 'the text holds more than one YAML document' : error.message.replace(/\.$/, '');
        return parseIssue(`Invalid YAML at line ${where.line}, column ${where.col}: ${message}.${fix}`, where);
      }),
    );
  }
  if (doc.contents === null) throw new WorkflowParseError([parseIssue(EMPTY)]);
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    // Excessive or unresolved aliases.
    throw new WorkflowParseError([
      parseIssue(
        `Invalid YAML: ${(error as Error).message}. Write the values out instead of using so many aliases, and define each anchor before its aliases.`,
      ),
    ]);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    if (!position) throw new WorkflowParseError([parseIssue(`Invalid JSON: ${message}.`)]);
    const before = text.slice(0, Number(position[1])).split('\n');
    const where = { line: before.length, col: before[before.length - 1].length + 1 };
    throw new WorkflowParseError([parseIssue(`Invalid JSON at line ${where.line}, column ${where.col}: ${message}.`, where)]);
  }
}

/**
 * Reads a workflow document from YAML or JSON text. Throws WorkflowParseError (code
 * `WORKFLOW.PARSE_ERROR`, with line and column where known); the result still has to go
 * through validateWorkflow.
 */
export function parseWorkflowText(text: string, contentType: 'yaml' | 'json'): unknown {
  if (text.trim() === '') throw new WorkflowParseError([parseIssue(EMPTY)]);
  try {
    return contentType === 'json' ? parseJson(text) : parseYaml(text);
  } catch (error) {
    if (error instanceof WorkflowParseError) throw error;
    // The parsers guard their own recursion, but a pathological text must still end as a 400.
    throw new WorkflowParseError([
      parseIssue(`The workflow document cannot be read as ${contentType.toUpperCase()}: ${(error as Error).message}.`),
    ]);
  }
}
