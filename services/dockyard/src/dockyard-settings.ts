import * as path from 'node:path';
import { booleanSetting, ConfigError, wholeNumberSetting } from '@co/common';

/** dockyard's own settings, read once at start from `CO_DOCKYARD_*`. */
export interface DockyardSettings {
  /** Where blobs, uploads and binary artifacts are kept (content-addressed). */
  storageDir: string;
  /** The registry's service name: the audience of the registry tokens it accepts. */
  serviceName: string;
  /** The token endpoint clients are sent to (crew's `/api/v1/registry/token`, as clients reach it). */
  tokenRealm: string;
  /** The largest manifest accepted (the distribution spec asks for at least 4 MiB). */
  maxManifestBytes: number;
  /** The largest image archive `POST …/images/import` accepts. */
  maxImportBytes: number;
  /** The largest chart package (`.tgz`) accepted. */
  maxChartBytes: number;
  /** The largest binary artifact accepted. */
  maxBinaryBytes: number;
  /** An upload untouched for this long is abandoned: garbage collection removes it. */
  uploadExpiryHours: number;
  /** Blobs younger than this are never collected, so that an in-flight push keeps its layers. */
  gcGraceMinutes: number;
  /** Hours between scheduled garbage collections; 0 turns the schedule off. */
  gcIntervalHours: number;
  /** Build the official components' images from the host's Debian packages at start. */
  officialImages: boolean;
}

export const DOCKYARD_SETTINGS = Symbol('DOCKYARD_SETTINGS');

export const DOCKYARD_ENV_KEYS = [
  'CO_DOCKYARD_STORAGE_DIR',
  'CO_DOCKYARD_SERVICE_NAME',
  'CO_DOCKYARD_TOKEN_REALM',
  'CO_DOCKYARD_MAX_MANIFEST_BYTES',
  'CO_DOCKYARD_MAX_IMPORT_BYTES',
  'CO_DOCKYARD_MAX_CHART_BYTES',
  'CO_DOCKYARD_MAX_BINARY_BYTES',
  'CO_DOCKYARD_UPLOAD_EXPIRY_HOURS',
  'CO_DOCKYARD_GC_GRACE_MINUTES',
  'CO_DOCKYARD_GC_INTERVAL_HOURS',
  'CO_DOCKYARD_OFFICIAL_IMAGES',
] as const;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,252}$/;

/** `dataDir` is the service's data folder (CO_DATA_DIR): storage goes under it unless CO_DOCKYARD_STORAGE_DIR says otherwise. */
export function loadDockyardSettings(env: NodeJS.ProcessEnv, dataDir = path.resolve(env.CO_DATA_DIR || './data')): DockyardSettings {
  const crewUrl = (env.CO_CREW_URL || 'http://127.0.0.1:8081').replace(/\/+$/, '');
  const serviceName = env.CO_DOCKYARD_SERVICE_NAME?.trim() || 'dockyard';
  if (!SERVICE_NAME.test(serviceName)) {
    throw new ConfigError('CO_DOCKYARD_SERVICE_NAME', `CO_DOCKYARD_SERVICE_NAME must be a registry name like registry.example.com (got ${JSON.stringify(serviceName)})`);
  }
  const tokenRealm = env.CO_DOCKYARD_TOKEN_REALM?.trim() || `${crewUrl}/api/v1/registry/token`;
  if (!/^https?:\/\/[^\s"]+$/.test(tokenRealm)) {
    throw new ConfigError('CO_DOCKYARD_TOKEN_REALM', `CO_DOCKYARD_TOKEN_REALM must be an http(s) URL without spaces or quotes (got ${JSON.stringify(tokenRealm)})`);
  }
  return {
    storageDir: path.resolve(env.CO_DOCKYARD_STORAGE_DIR || path.join(dataDir, 'dockyard')),
    serviceName,
    tokenRealm,
    maxManifestBytes: wholeNumberSetting(env, 'CO_DOCKYARD_MAX_MANIFEST_BYTES', 4 * MiB, 4 * MiB, 64 * MiB),
    maxImportBytes: wholeNumberSetting(env, 'CO_DOCKYARD_MAX_IMPORT_BYTES', 2 * GiB, 1, 64 * GiB),
    maxChartBytes: wholeNumberSetting(env, 'CO_DOCKYARD_MAX_CHART_BYTES', 20 * MiB, 1, GiB),
    maxBinaryBytes: wholeNumberSetting(env, 'CO_DOCKYARD_MAX_BINARY_BYTES', 2 * GiB, 1, 64 * GiB),
    uploadExpiryHours: wholeNumberSetting(env, 'CO_DOCKYARD_UPLOAD_EXPIRY_HOURS', 24, 1, 24 * 30),
    gcGraceMinutes: wholeNumberSetting(env, 'CO_DOCKYARD_GC_GRACE_MINUTES', 60, 0, 24 * 60 * 7),
    gcIntervalHours: wholeNumberSetting(env, 'CO_DOCKYARD_GC_INTERVAL_HOURS', 24, 0, 24 * 30),
    officialImages: booleanSetting(env, 'CO_DOCKYARD_OFFICIAL_IMAGES', true),
  };
}


