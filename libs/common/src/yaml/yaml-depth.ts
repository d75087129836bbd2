import { LineCounter, Parser } from 'yaml';

/**
 * Where a YAML text's collections nest deeper than `maxDepth`, measured on the concrete
 * syntax tree (which the yaml package builds without recursion), before the document is
 * built: undefined when they do not. Lines and columns count from 1.
 */
export function yamlTooDeep(text: string, maxDepth: number): { line: number; col: number } | undefined {
  const lineCounter = new LineCounter();
  const pending: Array<{ token: unknown; depth: number }> = [];
  for (const token of new Parser(lineCounter.addNewLine).parse(text)) pending.push({ token, depth: 0 });
  while (pending.length > 0) {
    const { token, depth } = pending.pop()!;
    if (token === null || typeof token !== 'object') continue;
    const node = token as { type?: string; value?: unknown; items?: unknown[]; offset?: number };
    if (depth > maxDepth) return lineCounter.linePos(typeof node.offset === 'number' ? node.offset : 0);
    // A document holds one value; collections hold items with a key and a value.
    if (node.type === 'document') pending.push({ token: node.value, depth });
    if (Array.isArray(node.items)) {
      for (const item of node.items) {
        if (item && typeof item === 'object') {
          const entry = item as { key?: unknown; value?: unknown };
          pending.push({ token: entry.key, depth: depth + 1 }, { token: entry.value, depth: depth + 1 });
        }
      }
    }
  }
  return undefined;
}
