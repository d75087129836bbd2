import { ConfigError } from '@co/common';
import { QUOTA_KEYS, type QuotaKey } from './quota.events';

/** Limits of an organization that has none set; null is no limit. */
export type QuotaDefaults = Record<QuotaKey, number | null>;

const VARIABLES: Record<QuotaKey, string> = {
  maxWorkflows: 'CO_CREW_DEFAULT_MAX_WORKFLOWS',
  maxConcurrentRuns: 'CO_CREW_DEFAULT_MAX_CONCURRENT_RUNS',
  maxRegistryBytes: 'CO_CREW_DEFAULT_MAX_REGISTRY_BYTES',
};

/** Unset or empty: no limit. The trial edition of the manual sets CO_CREW_DEFAULT_MAX_WORKFLOWS=10. */
export function loadQuotaDefaults(env: NodeJS.ProcessEnv): QuotaDefaults {
  const defaults = {} as QuotaDefaults;
  for (const key of QUOTA_KEYS) {
    const variable = VARIABLES[key];
    const raw = env[variable]?.trim();
    if (!raw) {
      defaults[key] = null;
      continue;
    }
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new ConfigError(variable, `${variable} must be a whole number from 0, or empty for no limit (got ${JSON.stringify(raw)})`);
    }
    defaults[key] = Number(raw);
  }
  return defaults;
}

export const QUOTA_DEFAULTS = Symbol('QUOTA_DEFAULTS');
