import { parse } from 'yaml';
import { InvalidInputError } from '@co/common';
import { isChartName, isChartVersion, MAX_CHART_NAME, MAX_CHART_VERSION } from './chart-names';

export interface ChartMaintainer {
  name: string;
  email?: string;
  url?: string;
}

export interface ChartDependency {
  name: string;
  version?: string;
  repository?: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  'import-values'?: unknown[];
  alias?: string;
}

/** The fields of Chart.yaml that a repository index carries (Helm's `chart.Metadata`). */
export interface ChartMetadata {
  apiVersion: string;
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  type?: string;
  keywords?: string[];
  home?: string;
  sources?: string[];
  maintainers?: ChartMaintainer[];
  icon?: string;
  dependencies?: ChartDependency[];
  annotations?: Record<string, string>;
  kubeVersion?: string;
  deprecated?: boolean;
}

export class ChartInvalidError extends InvalidInputError {
  constructor(message: string) {
    super('CHART.INVALID', message);
  }
}

const STRING_FIELDS = ['appVersion', 'description', 'type', 'home', 'icon', 'kubeVersion'] as const;

/** Reads Chart.yaml text (a chart package's) into the metadata an index lists; ChartInvalidError names what is wrong. */
export function parseChartYaml(text: string): ChartMetadata {
  let document: unknown;
  try {
    document = parse(text, { maxAliasCount: 50, uniqueKeys: false });
  } catch (error) {
    throw new ChartInvalidError(`Chart.yaml is not valid YAML: ${firstLine((error as Error).message)}`);
  }
  return chartMetadata(document, 'Chart.yaml');
}

/**
 * Checks a Chart.yaml document (or a Helm OCI config, which is the same fields as JSON)
 * and keeps the fields Helm's index knows, with Helm's types, so that `helm repo add`
 * reads the index this repository writes.
 */
export function chartMetadata(document: unknown, source: string): ChartMetadata {
  if (!isRecord(document)) throw new ChartInvalidError(`${source} must be a mapping of fields (apiVersion, name, version, ...)`);
  const apiVersion = document.apiVersion;
  if (apiVersion !== 'v1' && apiVersion !== 'v2') throw new ChartInvalidError(`${source} must say apiVersion: v2 (or v1 for Helm 2 charts)`);
  if (!isChartName(document.name)) {
    throw new ChartInvalidError(
      `${source} name ${shown(document.name)} is not a valid chart name: lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit, at most ${MAX_CHART_NAME} characters`,
    );
  }
  if (!isChartVersion(document.version)) {
    throw new ChartInvalidError(`${source} version ${shown(document.version)} is not a semantic version (like 1.2.3 or 1.2.3-rc.1), at most ${MAX_CHART_VERSION} characters`);
  }
  const metadata: ChartMetadata = { apiVersion, name: document.name, version: document.version };
  for (const field of STRING_FIELDS) {
    const value = document[field];
    if (value === undefined || value === null || value === '') continue;
    // YAML reads `appVersion: 1.16` as a number; Helm keeps it as the text written.
    if (typeof value === 'number' || typeof value === 'boolean') metadata[field] = String(value);
    else if (typeof value === 'string') metadata[field] = value;
    else throw new ChartInvalidError(`${source} field ${field} must be text`);
  }
  if (metadata.type !== undefined && metadata.type !== 'application' && metadata.type !== 'library') {
    throw new ChartInvalidError(`${source} type must be application or library, not ${shown(metadata.type)}`);
  }
  const keywords = stringList(document.keywords, `${source} keywords`);
  if (keywords) metadata.keywords = keywords;
  const sources = stringList(document.sources, `${source} sources`);
  if (sources) metadata.sources = sources;
  if (document.maintainers !== undefined && document.maintainers !== null) {
    if (!Array.isArray(document.maintainers)) throw new ChartInvalidError(`${source} maintainers must be a list`);
    metadata.maintainers = document.maintainers.map((entry, index) => {
      if (!isRecord(entry) || typeof entry.name !== 'string' || !entry.name) throw new ChartInvalidError(`${source} maintainers[${index}] needs a name`);
      const maintainer: ChartMaintainer = { name: entry.name };
      for (const key of ['email', 'url'] as const) {
        if (entry[key] === undefined || entry[key] === null) continue;
        if (typeof entry[key] !== 'string') throw new ChartInvalidError(`${source} maintainers[${index}].${key} must be text`);
        maintainer[key] = entry[key] as string;
      }
      return maintainer;
    });
  }
  if (document.dependencies !== undefined && document.dependencies !== null) {
    if (!Array.isArray(document.dependencies)) throw new ChartInvalidError(`${source} dependencies must be a list`);
    metadata.dependencies = document.dependencies.map((entry, index) => dependency(entry, `${source} dependencies[${index}]`));
  }
  if (document.annotations !== undefined && document.annotations !== null) {
    if (!isRecord(document.annotations)) throw new ChartInvalidError(`${source} annotations must be a mapping of text to text`);
    const annotations: Record<string, string> = {};
    for (const [key, value] of Object.entries(document.annotations)) {
      if (typeof value === 'object' && value !== null) throw new ChartInvalidError(`${source} annotation ${shown(key)} must be text`);
      annotations[key] = String(value);
    }
    metadata.annotations = annotations;
  }
  if (document.deprecated !== undefined && document.deprecated !== null) {
    if (typeof document.deprecated !== 'boolean') throw new ChartInvalidError(`${source} deprecated must be true or false`);
    metadata.deprecated = document.deprecated;
  }
  return metadata;
}

function dependency(entry: unknown, where: string): ChartDependency {
  if (!isRecord(entry) || typeof entry.name !== 'string' || !entry.name) throw new ChartInvalidError(`${where} needs a name`);
  const result: ChartDependency = { name: entry.name };
  for (const key of ['version', 'repository', 'condition', 'alias'] as const) {
    const value = entry[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number') throw new ChartInvalidError(`${where}.${key} must be text`);
    result[key] = String(value);
  }
  const tags = stringList(entry.tags, `${where}.tags`);
  if (tags) result.tags = tags;
  if (entry.enabled !== undefined && entry.enabled !== null) {
    if (typeof entry.enabled !== 'boolean') throw new ChartInvalidError(`${where}.enabled must be true or false`);
    result.enabled = entry.enabled;
  }
  if (entry['import-values'] !== undefined && entry['import-values'] !== null) {
    if (!Array.isArray(entry['import-values'])) throw new ChartInvalidError(`${where}.import-values must be a list`);
    result['import-values'] = entry['import-values'];
  }
  return result;
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => ['string', 'number'].includes(typeof item))) throw new ChartInvalidError(`${where} must be a list of text`);
  return value.map(String);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function firstLine(message: string): string {
  return message.split('\n')[0].slice(0, 200);
}
