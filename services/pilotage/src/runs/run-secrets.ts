import { InvalidInputError, openJson, sealJson } from '@co/common';
import { sqlTime, type Database } from '@co/eventstore';
import type { SecretSpec } from '../workflows/workflow-definition';

/**
 * Limits of the secret values given with a run request. The shortest value is what makes
 * masking meaningful: replacing every "a" of a log by *** would hide the log and tell
 * anyone the secret's one letter.
 */
export const RUN_SECRET_LIMITS = { minLength: 4, valueBytes: 4096 } as const;

/** How old sealed values without a recorded run must be before they are deleted (projection lag aside). */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

/**
 * The secret values of a run request, checked against what the workflow declares:
 * undeclared names, values that are not strings or break the limits, and required secrets
 * that are missing all come back at once in one 400 `RUN.INVALID_SECRETS` naming them
 * (never repeating a value). Optional secrets that were not given stay absent.
 */
export function checkRunSecrets(declared: SecretSpec[] | undefined, given: Record<string, unknown> | undefined): Record<string, string> {
  const names = new Map((declared ?? []).map((secret) => [secret.name, secret]));
  const undeclared: string[] = [];
  const invalid: string[] = [];
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) {
    if (!names.has(name)) undeclared.push(name);
    else if (typeof value !== 'string') invalid.push(`${name} must be a string`);
    else if ([...value].length < RUN_SECRET_LIMITS.minLength) invalid.push(`${name} is shorter than ${RUN_SECRET_LIMITS.minLength} characters`);
    else if (Buffer.byteLength(value) > RUN_SECRET_LIMITS.valueBytes) invalid.push(`${name} is longer than ${RUN_SECRET_LIMITS.valueBytes} bytes`);
    else values[name] = value;
  }
  const missing = [...names.values()].filter((secret) => secret.required && !Object.hasOwn(given ?? {}, secret.name)).map((secret) => secret.name);
  if (undeclared.length || invalid.length || missing.length) {
    const problems = [
      ...(missing.length ? [`missing required secrets: ${missing.join(', ')}`] : []),
      ...(undeclared.length ? [`secrets not declared by the workflow: ${undeclared.join(', ')} (declared: ${[...names.keys()].join(', ') || 'none'})`] : []),
      ...invalid,
    ];
    throw new InvalidInputError('RUN.INVALID_SECRETS', `${problems.join('; ')}. Give the workflow's secrets as "secrets": {"NAME": "value"}.`, {
      missing,
      undeclared,
      invalid,
    });
  }
  return values;
}

/**
 * The secret values of runs that have not ended, sealed (`sealJson`, bound to the run id) in
 * `pilotage_run_secrets` (the key is in `pilotage_settings`, made once), so that an engine
 * that restarts mid-run, and retries, still have them. The engine deletes a run's row when
 * the run ends; events only ever hold secret names.
 */
export class RunSecretStore {
  constructor(
    private readonly db: Database,
    private readonly key: Buffer,
  ) {}

  async save(runId: string, values: Record<string, string>): Promise<void> {
    if (Object.keys(values).length === 0) return;
    await this.db.query('INSERT INTO pilotage_run_secrets (run_id, sealed, created_at) VALUES (?, ?, ?)', [
      runId,
      sealJson(this.key, runId, values),
      sqlTime(this.db, new Date()),
    ]);
  }

  /** The run's values; {} when it was given none (or they were deleted at its end). */
  async load(runId: string): Promise<Record<string, string>> {
    const rows = await this.db.query<{ sealed: string }[]>('SELECT sealed FROM pilotage_run_secrets WHERE run_id = ?', [runId]);
    return rows.length ? (openJson(this.key, runId, rows[0].sealed) as Record<string, string>) : {};
  }

  async delete(runId: string): Promise<void> {
    await this.db.query('DELETE FROM pilotage_run_secrets WHERE run_id = ?', [runId]);
  }

  /**
   * Rows of runs that have ended (an engine stopped between a run's end and the row's
   * deletion), and rows older than an hour of runs that were never recorded (the process
   * stopped between saving the values and recording the run request).
   */
  async deleteEnded(terminalStatuses: readonly string[]): Promise<void> {
    await this.db.query(
      `DELETE FROM pilotage_run_secrets WHERE run_id IN (SELECT id FROM pilotage_runs WHERE status IN (${terminalStatuses.map(() => '?').join(', ')}))`,
      [...terminalStatuses],
    );
    await this.db.query('DELETE FROM pilotage_run_secrets WHERE created_at < ? AND run_id NOT IN (SELECT id FROM pilotage_runs)', [
      sqlTime(this.db, new Date(Date.now() - ORPHAN_AGE_MS)),
    ]);
  }
}

/** Replaces every value by `***`, longest first (so that a value containing another is hidden whole). */
export function maskSecretValues(text: string, values: readonly string[]): string {
  let masked = text;
  for (const value of values) if (value && masked.includes(value)) masked = masked.split(value).join('***');
  return masked;
}

/**
 * The values to mask, longest first. Logs are read line by line, so a value with line
 * breaks (a key file, a kubeconfig) never appears whole in one line: each of its lines
 * long enough to mask is masked too.
 */
export function maskList(values: Record<string, string>): string[] {
  const masks = new Set<string>();
  for (const value of Object.values(values)) {
    if (value.length > 0) masks.add(value);
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r?\n|\r/)) if ([...line.trim()].length >= RUN_SECRET_LIMITS.minLength) masks.add(line);
    }
  }
  return [...masks].sort((a, b) => b.length - a.length);
}

/** Every string inside a JSON value masked (keys too): for data a component reports, recorded in events. */
export function maskDeep(value: unknown, values: readonly string[]): unknown {
  if (values.length === 0) return value;
  if (typeof value === 'string') return maskSecretValues(value, values);
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [maskSecretValues(key, values), maskDeep(item, values)]));
  }
  return value;
}
