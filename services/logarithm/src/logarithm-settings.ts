import * as path from 'node:path';
import { wholeNumberSetting } from '@co/common';
import { MASK_ENV_KEYS } from './masking/mask-settings';
import { TAIL_ENV_KEYS } from './tail/tail-settings';

/** logarithm's own settings, read once at start from `CO_LOGARITHM_*`. */
export interface LogarithmSettings {
  /** Where the log segments are kept (one writer per folder). */
  storageDir: string;
  /** Days a segment is kept after its last line arrived, unless an organization sets its own. */
  retentionDays: number;
  /** Minutes between retention runs; 0 turns the schedule off. */
  retentionIntervalMinutes: number;
  /** A longer line is cut and marked ` [truncated]`. */
  maxLineBytes: number;
  /** The largest push request body (413 above). */
  maxPushBytes: number;
  /** gzip level of the segment frames (1 fastest … 9 smallest). */
  compressionLevel: number;
}

export const LOGARITHM_SETTINGS = Symbol('LOGARITHM_SETTINGS');

export const LOGARITHM_ENV_KEYS = [
  'CO_LOGARITHM_STORAGE_DIR',
  'CO_LOGARITHM_RETENTION_DAYS',
  'CO_LOGARITHM_RETENTION_INTERVAL_MINUTES',
  'CO_LOGARITHM_MAX_LINE_BYTES',
  'CO_LOGARITHM_MAX_PUSH_BYTES',
  'CO_LOGARITHM_COMPRESSION_LEVEL',
  ...TAIL_ENV_KEYS,
  ...MASK_ENV_KEYS,
] as const;

const KiB = 1024;
const MiB = 1024 * KiB;

export const LOGARITHM_DEFAULTS = {
  retentionDays: 30,
  retentionIntervalMinutes: 60,
  maxLineBytes: 64 * KiB,
  maxPushBytes: 8 * MiB,
  compressionLevel: 1,
} as const;

/** `dataDir` is the service's data folder (CO_DATA_DIR): segments go under it unless CO_LOGARITHM_STORAGE_DIR says otherwise. */
export function loadLogarithmSettings(env: NodeJS.ProcessEnv, dataDir = path.resolve(env.CO_DATA_DIR || './data')): LogarithmSettings {
  return {
    storageDir: path.resolve(env.CO_LOGARITHM_STORAGE_DIR?.trim() || path.join(dataDir, 'logarithm')),
    retentionDays: wholeNumberSetting(env, 'CO_LOGARITHM_RETENTION_DAYS', LOGARITHM_DEFAULTS.retentionDays, 0, 36_500),
    retentionIntervalMinutes: wholeNumberSetting(env, 'CO_LOGARITHM_RETENTION_INTERVAL_MINUTES', LOGARITHM_DEFAULTS.retentionIntervalMinutes, 0, 7 * 24 * 60),
    maxLineBytes: wholeNumberSetting(env, 'CO_LOGARITHM_MAX_LINE_BYTES', LOGARITHM_DEFAULTS.maxLineBytes, 256, MiB),
    maxPushBytes: wholeNumberSetting(env, 'CO_LOGARITHM_MAX_PUSH_BYTES', LOGARITHM_DEFAULTS.maxPushBytes, 64 * KiB, 256 * MiB),
    compressionLevel: wholeNumberSetting(env, 'CO_LOGARITHM_COMPRESSION_LEVEL', LOGARITHM_DEFAULTS.compressionLevel, 1, 9),
  };
}

