import { wholeNumberSetting } from '@co/common';

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
    retainHours: wholeNumberSetting(env, 'CO_LOGARITHM_MASK_RETAIN_HOURS', 6, 0, 24 * 30),
    maxAgeHours: wholeNumberSetting(env, 'CO_LOGARITHM_MASK_MAX_AGE_HOURS', 24 * 7, 1, 24 * 365),
  };
}

