import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConflictError, InvalidInputError, CommonErrorCodes } from '@co/common';
import { Database, sqlTime } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { RUN_ID, RunEnds } from '../runs/run-ends';
import { SLUG } from '../storage/log-line';
import { LogMasker, MIN_MASK_LENGTH } from './log-masker';
import { maskCipher, type MaskCipher } from './mask-cipher';
import { MASK_SETTINGS, type MaskSettings } from './mask-settings';

/** Limits of RegisterRunMasks (documented in docs/logs.md). */
export const MASK_LIMITS = {
  valuesPerRun: 100,
  valueBytes: 4096,
  minValueLength: MIN_MASK_LENGTH,
} as const;

/** How often a replica checks whether another one registered or dropped masks. */
const REFRESH_MS = 5000;
/** How often masks of runs that ended long enough ago are dropped. */
const CLEANUP_MS = 10 * 60_000;

export interface RunMaskRequest {
  org: string;
  project: string;
  run: string;
  values: string[];
}

interface MaskRow {
  run_id: string;
  org: string;
  project: string;
  sealed: string;
}

/**
 * The secret values of runs, registered by pilotage before a run's first task starts:
 * validated, sealed into `logarithm_run_masks` and handed to the LogMasker. Loaded at
 * start (before any line is ingested), followed from the database every few seconds
 * (another replica may have registered them), and dropped some hours after the run's
 * end. Values never reach a log, an event or an answer: only their count does.
 */
@Injectable()
export class RunMasks implements OnModuleInit, OnApplicationShutdown {
  private cipher?: MaskCipher;
  private refreshTimer?: NodeJS.Timeout;
  private cleanupTimer?: NodeJS.Timeout;
  private seen = '';
  /**
   * Registrations and reloads, one at a time: a reload whose SELECT ran before a
   * registration committed would otherwise drop that run's fresh masks until the next one.
   */
  private changes: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly db: Database,
    private readonly masker: LogMasker,
    private readonly runs: RunEnds,
    @Inject(MASK_SETTINGS) private readonly settings: MaskSettings,
  ) {}

  /** Before any consumer or endpoint starts: no line may be stored before its run's masks are known. */
  async onModuleInit(): Promise<void> {
    this.cipher = await maskCipher(this.db);
    await this.dropEnded();
    await this.load();
    this.refreshTimer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.refreshTimer.unref();
    this.cleanupTimer = setInterval(() => void this.dropEnded().catch((error: unknown) => this.runtime.logger.warn({ err: error }, 'dropping masks of ended runs failed')), CLEANUP_MS);
    this.cleanupTimer.unref();
    // Kept for no time after the end: dropped as soon as the end is known.
    if (this.settings.retainHours === 0) {
      this.runs.onEnded((ended) => void this.dropRun(ended.run).catch((error: unknown) => this.runtime.logger.warn({ err: error }, 'dropping the masks of an ended run failed')));
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.cleanupTimer);
  }

  /** Adds `values` to the run's masks; answers how many the run has. Refused as a whole when one value is not acceptable. */
  register(request: RunMaskRequest): Promise<number> {
    return this.inTurn(() => this.registerNow(request));
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.changes.then(work);
    this.changes = result.catch(() => undefined);
    return result;
  }

  private async registerNow(request: RunMaskRequest): Promise<number> {
    const { org, project, run } = checkRequest(request);
    const values = checkValues(request.values);
    const owner = await this.runs.owner(run);
    if (owner && (owner.org !== org || owner.project !== project)) {
      throw new ConflictError('LOGS.MASK_RUN_MISMATCH', `Run ${run} belongs to another project than ${org}/${project}; register masks with the run's own organization and project.`);
    }
    const cipher = this.cipher!;
    const mysql = this.db.dialect === 'mysql';
    const merged = await this.db.transaction(async (manager) => {
      const [row] = await manager.query<MaskRow[]>(`SELECT * FROM logarithm_run_masks WHERE run_id = ?${mysql ? ' FOR UPDATE' : ''}`, [run]);
      if (row && (row.org !== org || row.project !== project)) {
        throw new ConflictError('LOGS.MASK_RUN_MISMATCH', `Run ${run} has masks of another project than ${org}/${project}; register masks with the run's own organization and project.`);
      }
      const known = row ? cipher.open(row.sealed, contextOf(row.org, run)) : [];
      const all = [...new Set([...known, ...values])];
      if (all.length > MASK_LIMITS.valuesPerRun) {
        throw new InvalidInputError(
          'LOGS.INVALID_MASK',
          `A run takes at most ${MASK_LIMITS.valuesPerRun} mask values; run ${run} would have ${all.length}. Register only the secret values its tasks receive.`,
          { limit: MASK_LIMITS.valuesPerRun },
        );
      }
      if (row && all.length === known.length) return all;
      const now = sqlTime(manager, new Date());
      const sealed = cipher.seal(all, contextOf(org, run));
      if (row) {
        await manager.query('UPDATE logarithm_run_masks SET value_count = ?, sealed = ?, updated_at = ? WHERE run_id = ?', [all.length, sealed, now, run]);
      } else {
        await manager.query(
          'INSERT INTO logarithm_run_masks (run_id, org, project, value_count, sealed, registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [run, org, project, all.length, sealed, now, now],
        );
      }
      return all;
    });
    this.masker.set(run, org, merged);
    this.runtime.logger.info({ org, project, run, values: merged.length }, 'run masks registered');
    return merged.length;
  }

  /** Drops the masks of runs that ended more than `retainHours` ago, and of runs registered more than `maxAgeHours` ago. */
  async dropEnded(): Promise<number> {
    const now = Date.now();
    const endedBefore = sqlTime(this.db, new Date(now - this.settings.retainHours * 3_600_000));
    const registeredBefore = sqlTime(this.db, new Date(now - this.settings.maxAgeHours * 3_600_000));
    const rows = await this.db.query<{ run_id: string }[]>(
      `SELECT m.run_id FROM logarithm_run_masks m LEFT JOIN logarithm_runs r ON r.run_id = m.run_id
        WHERE m.registered_at < ? OR (r.ended_at IS NOT NULL AND r.ended_at <= ?)`,
      [registeredBefore, endedBefore],
    );
    const runs = rows.map((row) => row.run_id);
    for (let start = 0; start < runs.length; start += 500) {
      const slice = runs.slice(start, start + 500);
      await this.db.query(`DELETE FROM logarithm_run_masks WHERE run_id IN (${slice.map(() => '?').join(', ')})`, slice);
    }
    for (const run of runs) this.masker.drop(run);
    if (runs.length > 0) this.runtime.logger.info({ runs: runs.length }, 'masks of ended runs dropped');
    return runs.length;
  }

  private async dropRun(run: string): Promise<void> {
    await this.db.query('DELETE FROM logarithm_run_masks WHERE run_id = ?', [run]);
    if (!this.masker.has(run)) return;
    this.masker.drop(run);
    this.runtime.logger.info({ runs: 1 }, 'masks of ended runs dropped');
  }

  /** Reloads every run's masks when the table changed (another replica registered or dropped some). */
  refresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.inTurn(async () => {
      try {
        if ((await this.fingerprint()) !== this.seen) await this.load();
      } catch (error) {
        this.runtime.logger.warn({ err: error }, 'reloading run masks failed; retrying');
      }
    });
  }

  /** Which state of the table the masks in memory reflect: a change of count or of the latest update means reloading. */
  private async fingerprint(): Promise<string> {
    const [state] = await this.db.query<{ n: number | string; latest: Date | string | null }[]>('SELECT COUNT(*) AS n, MAX(updated_at) AS latest FROM logarithm_run_masks');
    return `${state?.n}/${state?.latest instanceof Date ? state.latest.toISOString() : String(state?.latest)}`;
  }

  /** Every run's masks from the table; the fingerprint is read first, so that a change made meanwhile is picked up by the next refresh. */
  private async load(): Promise<void> {
    const fingerprint = await this.fingerprint();
    const rows = await this.db.query<MaskRow[]>('SELECT run_id, org, project, sealed FROM logarithm_run_masks');
    const present = new Set<string>();
    for (const row of rows) {
      try {
        this.masker.set(row.run_id, row.org, this.cipher!.open(row.sealed, contextOf(row.org, row.run_id)));
        present.add(row.run_id);
      } catch {
        this.runtime.logger.error({ run: row.run_id }, 'the masks of a run cannot be opened (wrong key or altered row)');
      }
    }
    for (const run of this.masker.maskedRuns()) if (!present.has(run)) this.masker.drop(run);
    this.seen = fingerprint;
  }
}

function contextOf(org: string, run: string): string {
  return `${org}/${run}`;
}

function checkRequest(request: RunMaskRequest): { org: string; project: string; run: string } {
  const problems: string[] = [];
  if (!SLUG.test(request.org ?? '')) problems.push('org must be an organization slug');
  if (!SLUG.test(request.project ?? '')) problems.push('project must be a project slug');
  if (!RUN_ID.test(request.run ?? '')) problems.push('run must be a run id (letters, digits, . _ : -, at most 64)');
  if (problems.length > 0) throw new InvalidInputError(CommonErrorCodes.REQUEST_INVALID, `The request is invalid: ${problems.join('; ')}.`, { violations: problems });
  return { org: request.org, project: request.project, run: request.run };
}

/** Says which value is wrong by its position, never by its content. */
function checkValues(values: string[] | undefined): string[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new InvalidInputError('LOGS.INVALID_MASK', 'Give at least one value to mask.');
  }
  if (values.length > MASK_LIMITS.valuesPerRun) {
    throw new InvalidInputError('LOGS.INVALID_MASK', `A run takes at most ${MASK_LIMITS.valuesPerRun} mask values; this request has ${values.length}.`, {
      limit: MASK_LIMITS.valuesPerRun,
    });
  }
  values.forEach((value, index) => {
    if (typeof value !== 'string' || value.trim().length < MASK_LIMITS.minValueLength) {
      throw new InvalidInputError(
        'LOGS.INVALID_MASK',
        `Value ${index + 1} of ${values.length} is shorter than ${MASK_LIMITS.minValueLength} characters (surrounding spaces aside): masking it would hide ordinary text. Secrets that short cannot be masked; use longer ones.`,
        { index },
      );
    }
    if (Buffer.byteLength(value, 'utf8') > MASK_LIMITS.valueBytes) {
      throw new InvalidInputError('LOGS.INVALID_MASK', `Value ${index + 1} of ${values.length} is longer than ${MASK_LIMITS.valueBytes} bytes; mask values are at most 4 KiB.`, {
        index,
        limit: MASK_LIMITS.valueBytes,
      });
    }
  });
  return values;
}
