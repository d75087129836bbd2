import { ConfigError } from '@co/common';

export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

export interface AuditSettings {
  /** Records older than this are deleted (at start, then daily). */
  retentionDays: number;
}

export function loadAuditSettings(env: NodeJS.ProcessEnv): AuditSettings {
  const raw = env.CO_CREW_AUDIT_RETENTION_DAYS?.trim();
  if (!raw) return { retentionDays: DEFAULT_AUDIT_RETENTION_DAYS };
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 36500) {
    throw new ConfigError(
      'CO_CREW_AUDIT_RETENTION_DAYS',
      `CO_CREW_AUDIT_RETENTION_DAYS must be a whole number of days between 1 and 36500 (got ${JSON.stringify(raw)})`,
    );
  }
  return { retentionDays: Number(raw) };
}

export const AUDIT_SETTINGS = Symbol('AUDIT_SETTINGS');
