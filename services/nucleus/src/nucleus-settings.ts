import { booleanSetting, ConfigError, wholeNumberSetting } from '@co/common';

/** nucleus' own settings, read once at start from `CO_NUCLEUS_*`. */
export interface NucleusSettings {
  /** dockyard's HTTP base: its REST API tells which images exist and their digests. */
  dockyardUrl: string;
  /**
   * Registry host names (`host[:port]`, lower case) that mean this dockyard in
   * `spec.image`; an image named on any other host cannot be published.
   */
  registryHosts: string[];
  /** How long one call to dockyard may take. */
  dockyardTimeoutMs: number;
  /** Publish the official components (namespace `official`) once dockyard holds their images. */
  officialComponents: boolean;
}

export const NUCLEUS_SETTINGS = Symbol('NUCLEUS_SETTINGS');

export const NUCLEUS_ENV_KEYS = ['CO_NUCLEUS_DOCKYARD_URL', 'CO_NUCLEUS_REGISTRY_HOSTS', 'CO_NUCLEUS_DOCKYARD_TIMEOUT_MS', 'CO_NUCLEUS_OFFICIAL_COMPONENTS'] as const;

export const NUCLEUS_DEFAULTS = {
  dockyardUrl: 'http://127.0.0.1:5000',
  registryHosts: ['127.0.0.1:5000', 'localhost:5000'],
  dockyardTimeoutMs: 10_000,
  officialComponents: true,
} as const;

const HOST = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$/;

export function loadNucleusSettings(env: NodeJS.ProcessEnv = process.env): NucleusSettings {
  const dockyardUrl = (env.CO_NUCLEUS_DOCKYARD_URL?.trim() || NUCLEUS_DEFAULTS.dockyardUrl).replace(/\/+$/, '');
  let parsed: URL | undefined;
  try {
    parsed = new URL(dockyardUrl);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.search || parsed.hash) {
    throw new ConfigError('CO_NUCLEUS_DOCKYARD_URL', `CO_NUCLEUS_DOCKYARD_URL must be dockyard's http(s) base URL, like http://dockyard:8082 (got ${JSON.stringify(dockyardUrl)})`);
  }
  const rawHosts = env.CO_NUCLEUS_REGISTRY_HOSTS?.trim();
  const registryHosts = rawHosts
    ? rawHosts
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter(Boolean)
    : [...NUCLEUS_DEFAULTS.registryHosts];
  const bad = registryHosts.find((host) => !HOST.test(host));
  if (!registryHosts.length || bad !== undefined) {
    throw new ConfigError(
      'CO_NUCLEUS_REGISTRY_HOSTS',
      `CO_NUCLEUS_REGISTRY_HOSTS must be a comma-separated list of registry hosts like registry.example.com,127.0.0.1:5000 (got ${JSON.stringify(bad ?? rawHosts)})`,
    );
  }
  const dockyardTimeoutMs = wholeNumberSetting(env, 'CO_NUCLEUS_DOCKYARD_TIMEOUT_MS', NUCLEUS_DEFAULTS.dockyardTimeoutMs, 100, 300_000);
  const officialComponents = booleanSetting(env, 'CO_NUCLEUS_OFFICIAL_COMPONENTS', NUCLEUS_DEFAULTS.officialComponents);
  return { dockyardUrl, registryHosts, dockyardTimeoutMs, officialComponents };
}
