import { ConfigError } from '@co/common';

/** How long masks are kept, read once at start from `CO_LOGARITHM_MASK_*`. */
export interface MaskSettings {
  /** Hours a run's masks are kept after its end (lines that arrive late are still masked). */
  retainHours: number;
  /** Hours after registration a run's masks are dropped even when its end never arrives. */
  maxAgeHours: number;
}

export const MASK_SETTINGS = Symbol('MASK_SETTINGS');

export const MASK_ENV_KEYS = ['CO_LOGARITHM_MASK_RETAIN_HOURS', 'CO_LOGARITHM_MASK_MAX_AGE_HOURS'] as const;

export function loadMaskSettings(env: NodeJS.ProcessEnv): MaskSettings {
  return {
    retainHours: whole(env, 'CO_LOGARITHM_MASK_RETAIN_HOURS', 6, 0, 24 * 30),
    maxAgeHours: whole(env, 'CO_LOGARITHM_MASK_MAX_AGE_HOURS', 24 * 7, 1, 24 * 365),
  };
}

function whole(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(variable, `${variable} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}
