/**
 * Gen-2 component output: `[COUT] KEY = value` lines on stdout. Only keys the action
 * declares are kept; `CO_RESULT = false` marks the task failed whatever its exit code.
 */
export const OUTPUT_LIMITS = {
  /** Bytes of one output value. */
  valueBytes: 16 * 1024,
  /** Bytes of all output values of one task attempt together. */
  taskBytes: 64 * 1024,
} as const;

const COUT_LINE = /^\[COUT\]\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

export interface ParsedOutputs {
  outputs: Record<string, string>;
  /** False once `CO_RESULT = false` was seen. */
  result?: boolean;
  /** Keys written that the action does not declare (ignored). */
  undeclared: string[];
  /** Set when a limit was passed: the task fails with this reason. */
  violation?: string;
}

/** Checks outputs reported over HTTP against the same limits; returns the violation, if any. */
export function outputLimitViolation(existing: Record<string, string>, incoming: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(incoming)) {
    const bytes = Buffer.byteLength(value);
    if (bytes > OUTPUT_LIMITS.valueBytes) return `output ${key} is ${bytes} bytes; the limit for one output is ${OUTPUT_LIMITS.valueBytes} bytes`;
  }
  const total = Object.values({ ...existing, ...incoming }).reduce((sum, value) => sum + Buffer.byteLength(value), 0);
  if (total > OUTPUT_LIMITS.taskBytes) return `outputs of this task would total ${total} bytes; the limit is ${OUTPUT_LIMITS.taskBytes} bytes`;
  return undefined;
}

export class OutputCollector {
  private readonly state: ParsedOutputs = { outputs: {}, undeclared: [] };

  constructor(private readonly declared: ReadonlySet<string>) {}

  /** Looks at one stdout line; returns the key it set, if any. */
  accept(line: string): string | undefined {
    const match = COUT_LINE.exec(line);
    if (!match) return undefined;
    const [, key, value] = match;
    if (key === 'CO_RESULT') {
      if (value.toLowerCase() === 'false') this.state.result = false;
      return key;
    }
    if (!this.declared.has(key)) {
      if (!this.state.undeclared.includes(key)) this.state.undeclared.push(key);
      return undefined;
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > OUTPUT_LIMITS.valueBytes) {
      this.state.violation ??= `output ${key} is ${bytes} bytes; the limit for one output is ${OUTPUT_LIMITS.valueBytes} bytes`;
      return undefined;
    }
    const others = Object.entries(this.state.outputs).reduce((sum, [name, current]) => (name === key ? sum : sum + Buffer.byteLength(current)), 0);
    if (others + bytes > OUTPUT_LIMITS.taskBytes) {
      this.state.violation ??= `outputs of this task total ${others + bytes} bytes; the limit is ${OUTPUT_LIMITS.taskBytes} bytes`;
      return undefined;
    }
    this.state.outputs[key] = value;
    return key;
  }

  get result(): ParsedOutputs {
    return this.state;
  }
}
