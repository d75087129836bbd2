import { ConfigError } from '@co/common';

/** Token lifetimes (documented in docs/security.md). */
export const ACCESS_TOKEN_SECONDS = 15 * 60;
export const REFRESH_TOKEN_SECONDS = 7 * 24 * 3600;
export const TOKEN_ISSUER = 'containerops-crew';
export const TOKEN_AUDIENCE = 'containerops';

export interface CrewSettings {
  /** A signing key older than this is replaced at start. */
  keyRotationDays: number;
  /** `CO_ADMIN_PASSWORD`: the bootstrap administrator's password, else one is generated. */
  adminPassword?: string;
}

export function loadCrewSettings(env: NodeJS.ProcessEnv): CrewSettings {
  const raw = env.CO_CREW_KEY_ROTATION_DAYS?.trim();
  let keyRotationDays = 30;
  if (raw) {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 3650) {
      throw new ConfigError('CO_CREW_KEY_ROTATION_DAYS', `CO_CREW_KEY_ROTATION_DAYS must be an integer number of days between 1 and 3650 (got ${JSON.stringify(raw)})`);
    }
    keyRotationDays = Number(raw);
  }
  const adminPassword = env.CO_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && ([...adminPassword].length < 12 || [...adminPassword].length > 128 || adminPassword.toLowerCase() === 'admin')) {
    throw new ConfigError('CO_ADMIN_PASSWORD', 'CO_ADMIN_PASSWORD must be 12 to 128 characters long and not "admin"');
  }
  return { keyRotationDays, adminPassword };
}

export const CREW_SETTINGS = Symbol('CREW_SETTINGS');
