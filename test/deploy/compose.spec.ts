/**
 * No container engine or cluster runs where the tests run, so the deployment files are
 * checked statically against the code they deploy: service names, ports, environment
 * variables (validated by the services' own config loader), health checks, the image's
 * entry point and the files it needs at run time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { DEFAULT_PORTS, SERVICE_NAMES, envKeys, loadServiceConfig, type ServiceName } from '@co/common';
import { TELEMETRY_ENV_KEYS } from '@co/telemetry';
import { CREW_ACCESS_ENV_KEYS } from '@co/auth';
import { DOCKYARD_ENV_KEYS } from '../../services/dockyard/src/dockyard-settings';
import { LOGARITHM_ENV_KEYS } from '../../services/logarithm/src/logarithm-settings';
import { NUCLEUS_ENV_KEYS } from '../../services/nucleus/src/nucleus-settings';
import { ENGINE_ENV_KEYS } from '../../services/pilotage/src/engine/engine-settings';

const ROOT = path.resolve(__dirname, '../..');
const INFRASTRUCTURE_SERVICES = ['mariadb', 'nats', 'jaeger'];
const SERVICE_ENV_KEYS = new Set<string>([...envKeys(), ...TELEMETRY_ENV_KEYS, ...CREW_ACCESS_ENV_KEYS, ...DOCKYARD_ENV_KEYS, ...NUCLEUS_ENV_KEYS, ...LOGARITHM_ENV_KEYS, ...ENGINE_ENV_KEYS]);
/** Addresses by which a health check inside the container reaches the service itself. */
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];
/** The margin stopOnSignals (libs/service-kit) allows past CO_SHUTDOWN_TIMEOUT_MS before it forces an exit. */
const FORCED_EXIT_MARGIN_SECONDS = 5;

type Env = Record<string, string>;

function readRepoFile(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what} must be a mapping, got ${JSON.stringify(value)}`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be a list, got ${JSON.stringify(value)}`);
  return value;
}

function optionalList(value: unknown, what: string): unknown[] {
  return value === undefined || value === null ? [] : list(value, what);
}

/** Splits a shell command line into words: quotes, backslashes and `${…}` (which may hold spaces). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  let braceDepth = 0;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (ch === '\\' && i + 1 < line.length && (quote === undefined || '"\\$`'.includes(line[i + 1]))) {
      word += line[++i];
      inWord = true;
    } else if (ch === '$' && line[i + 1] === '{') {
      word += '${';
      i++;
      braceDepth++;
      inWord = true;
    } else if (braceDepth > 0) {
      word += ch;
      if (ch === '}') braceDepth--;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote || braceDepth > 0) throw new Error(`unterminated quote or \${ in: ${line}`);
  if (inWord) words.push(word);
  return words;
}

/** `20s`, `1m30s`, `500ms` (compose durations) in seconds. */
function durationSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== duration) {
    throw new Error(`cannot read the duration ${JSON.stringify(duration)}`);
  }
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return parts.reduce((total, [, amount, suffix]) => total + Number(amount) * unit[suffix], 0);
}

function isAncestorOrSelf(ancestor: string, descendant: string): boolean {
  const relative = path.posix.relative(ancestor, descendant);
  return relative === '' || (!relative.startsWith('..') && !path.posix.isAbsolute(relative));
}

/** Database name of a `mysql://…/name` URL. */
function databaseName(dbUrl: string): string {
  return new URL(dbUrl.replace(/^mariadb:/, 'mysql:')).pathname.replace(/^\//, '');
}

// ---------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}

interface CopyInstruction {
  /** Stage name (or image) for `COPY --from`; undefined for the build context. */
  from?: string;
  sources: string[];
  /** Absolute, resolved against the WORKDIR in force. */
  destination: string;
  destinationIsDirectory: boolean;
}

interface Stage {
  name?: string;
  base: string;
  /** The stage this one is built FROM, when it is one of this Dockerfile's. */
  parent?: Stage;
  instructions: Instruction[];
  copies: CopyInstruction[];
  runs: string[];
  workdir: string;
  env: Env;
  args: Set<string>;
  user?: string;
}

interface Dockerfile {
  stages: Stage[];
  final: Stage;
}

function expandDockerVariables(text: string, variables: Env): string {
  return text.replace(
    /\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g,
    (_match, braced?: string, fallback?: string, bare?: string) => {
      const name = (braced ?? bare) as string;
      return variables[name] ?? fallback ?? '';
    },
  );
}

function parseKeyValues(args: string): Env {
  const words = shellWords(args);
  if (words.length > 0 && !words[0].includes('=')) return { [words[0]]: words.slice(1).join(' ') };
  return Object.fromEntries(
    words.map((word) => {
      const equals = word.indexOf('=');
      return equals < 0 ? [word, ''] : [word.slice(0, equals), word.slice(equals + 1)];
    }),
  );
}

/** Words of an exec-form (JSON array) or shell-form instruction. */
function instructionWords(args: string): { words: string[]; execForm: boolean } {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === 'string')) {
      throw new Error(`not a JSON array of strings: ${trimmed}`);
    }
    return { words: parsed as string[], execForm: true };
  }
  return { words: shellWords(trimmed), execForm: false };
}

function parseDockerfile(text: string): Dockerfile {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && /^\s*(#|$)/.test(line)) continue;
    if (line.trimStart().startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    lines.push((pending + line).trim());
    pending = '';
  }
  if (pending.trim() !== '') lines.push(pending.trim());

  const globalArgs: Env = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  for (const line of lines) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
    const instruction: Instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const words = shellWords(args).filter((word) => !word.startsWith('--'));
      const base = expandDockerVariables(words[0], globalArgs);
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      const parent = stages.find((candidate) => candidate.name === base);
      stage = {
        name,
        base,
        parent,
        instructions: [],
        copies: [],
        runs: [],
        workdir: parent?.workdir ?? '/',
        env: { ...parent?.env },
        args: new Set(),
        user: parent?.user,
      };
      stages.push(stage);
      continue;
    }
    if (!stage) {
      if (instruction.keyword === 'ARG') Object.assign(globalArgs, parseKeyValues(args));
      continue;
    }
    stage.instructions.push(instruction);
    const variables = { ...stage.env };
    switch (instruction.keyword) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, expandDockerVariables(args.trim(), variables));
        break;
      case 'ENV':
        Object.assign(stage.env, parseKeyValues(args));
        break;
      case 'ARG':
        for (const name of Object.keys(parseKeyValues(args))) stage.args.add(name);
        break;
      case 'USER':
        stage.user = expandDockerVariables(args.trim(), variables);
        break;
      case 'RUN':
        stage.runs.push(args.replace(/--mount=\S+\s*/g, '').trim());
        break;
      case 'COPY':
      case 'ADD': {
        const [, flagText, rest] = /^((?:--\S+\s+)*)(.*)$/.exec(args) as RegExpExecArray;
        const flags = flagText.split(/\s+/).filter((flag) => flag !== '');
        const paths = instructionWords(rest).words.map((word) => expandDockerVariables(word, variables));
        const rawDestination = paths[paths.length - 1];
        stage.copies.push({
          from: flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length),
          sources: paths.slice(0, -1),
          destination: path.posix.resolve(stage.workdir, rawDestination),
          destinationIsDirectory: rawDestination.endsWith('/') || rawDestination === '.' || paths.length > 2,
        });
        break;
      }
    }
  }
  if (!stage) throw new Error('the Dockerfile has no FROM');
  return { stages, final: stage };
}

/** A stage and the stages it is built FROM, nearest first. */
function lineage(stage: Stage): Stage[] {
  return stage.parent ? [stage, ...lineage(stage.parent)] : [stage];
}

/**
 * Where `file` (a path in the build context, or an absolute path in another stage for
 * COPY --from) lands when `copy` runs, or undefined when the copy does not include it.
 * A directory source copies its contents into the destination, as Docker does.
 */
function landingPath(
  copy: CopyInstruction,
  file: string,
  options: { sourceWorkdir?: string; isDirectory?: boolean } = {},
): string | undefined {
  for (const rawSource of copy.sources) {
    const source = copy.from
      ? path.posix.resolve(options.sourceWorkdir ?? '/', rawSource)
      : path.posix.normalize(rawSource).replace(/\/+$/, '');
    if (source === '.' || source === '/') return path.posix.join(copy.destination, file);
    if (file === source) {
      if (options.isDirectory || !copy.destinationIsDirectory) return copy.destination;
      return path.posix.join(copy.destination, path.posix.basename(file));
    }
    if (file.startsWith(source + '/')) return path.posix.join(copy.destination, file.slice(source.length + 1));
  }
  return undefined;
}

/** Docker's .dockerignore rules: the last pattern matching a path or one of its parents decides. */
function dockerIgnored(patterns: string[], file: string): boolean {
  let ignored = false;
  for (const rawPattern of patterns) {
    const negated = rawPattern.startsWith('!');
    const pattern = path.posix.normalize((negated ? rawPattern.slice(1) : rawPattern).trim()).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      '^' +
        pattern
          .split(/(\*\*\/|\*\*|\*|\?)/)
          .map((part) => {
            if (part === '**/') return '(?:.*/)?';
            if (part === '**') return '.*';
            if (part === '*') return '[^/]*';
            if (part === '?') return '[^/]';
            return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
          })
          .join('') +
        '$',
    );
    const segments = file.split('/');
    const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
    if (candidates.some((candidate) => regex.test(candidate))) ignored = !negated;
  }
  return ignored;
}

function readDockerignore(): string[] {
  return readRepoFile('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

interface ImageEntry {
  /** The variable that names the service, e.g. CO_SERVICE. */
  selector: string;
  /** `node` and its arguments, with `{service}` where the selector is expanded. */
  argv: string[];
  /** No shell stays between the container runtime and node (exec form, or the shell's `exec`). */
  nodeIsPid1: boolean;
}

function imageEntry(dockerfile: Dockerfile): ImageEntry {
  const instruction = [...dockerfile.final.instructions]
    .reverse()
    .find((candidate) => ['CMD', 'ENTRYPOINT'].includes(candidate.keyword));
  if (!instruction) throw new Error('the final stage has neither CMD nor ENTRYPOINT');
  const { words, execForm } = instructionWords(instruction.args);
  let argv = words;
  let nodeIsPid1 = execForm;
  const shellScript = execForm
    ? /^(\/bin\/)?(ba|da)?sh$/.test(words[0]) && words[1] === '-c'
      ? shellWords(words[2])
      : undefined
    : words;
  if (shellScript) {
    // Only the last command matters: the one the shell replaces itself with.
    const execAt = shellScript.lastIndexOf('exec');
    nodeIsPid1 = execAt >= 0;
    argv = shellScript.slice(execAt + 1);
  }
  const selectors = new Set<string>();
  const templated = argv.map((word) =>
    word.replace(/\$\{(\w+)[^}]*\}|\$(\w+)/g, (_match, braced?: string, bare?: string) => {
      selectors.add((braced ?? bare) as string);
      return '{service}';
    }),
  );
  if (selectors.size !== 1)
    throw new Error(
      `the entry point must name the service through one variable, found ${[...selectors].join(', ') || 'none'}`,
    );
  return { selector: [...selectors][0], argv: templated, nodeIsPid1 };
}

/** `node -r a.js -r b.js main.js`: the preloads and the entry script. */
function nodeInvocation(argv: string[]): { preloads: string[]; script: string } {
  if (argv[0] !== 'node') throw new Error(`the command must run node, got ${argv.join(' ')}`);
  const preloads: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '-r' || argv[i] === '--require') preloads.push(argv[++i]);
    else if (argv[i].startsWith('--require=')) preloads.push(argv[i].slice('--require='.length));
    else if (!argv[i].startsWith('-')) return { preloads, script: argv[i] };
  }
  throw new Error(`node gets no script in: ${argv.join(' ')}`);
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml

/** Compose interpolation with defaults only, so that the file works with no .env. */
function interpolateCompose(value: unknown, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{(\w+)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}|\$(\w+)/g,
      (
        match,
        braced?: string,
        _dash?: string,
        fallback?: string,
        required?: string,
        _message?: string,
        bare?: string,
      ) => {
        if (match === '$$') return '$';
        if (fallback !== undefined) return fallback;
        throw new Error(
          `${where}: ${braced ?? bare} has no default${required ? ' (marked required)' : ''}, ` +
            'so docker compose up would not work without a .env',
        );
      },
    );
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateCompose(item, `${where}[${index}]`));
  if (isRecord(value))
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateCompose(item, `${where}.${key}`)]),
    );
  return value;
}

function loadCompose(): { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> } {
  const parsed = record(
    interpolateCompose(parseYaml(readRepoFile('docker-compose.yml'), { merge: true }), 'docker-compose.yml'),
    'docker-compose.yml',
  );
  const services = record(parsed.services, 'services');
  return {
    services: Object.fromEntries(
      Object.entries(services).map(([name, service]) => [name, record(service, `services.${name}`)]),
    ),
    volumes: isRecord(parsed.volumes) ? parsed.volumes : {},
  };
}

function composeEnvironment(service: Record<string, unknown>): Env {
  const environment = service.environment;
  if (environment === undefined) return {};
  const entries: Array<[string, unknown]> = Array.isArray(environment)
    ? environment.map((item) => {
        const text = String(item);
        const equals = text.indexOf('=');
        return equals < 0 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
      })
    : Object.entries(record(environment, 'environment'));
  return Object.fromEntries(
    entries.filter(([, value]) => value !== undefined && value !== null).map(([key, value]) => [key, String(value)]),
  );
}

function composeEnvironmentKeys(service: Record<string, unknown>): string[] {
  const environment = service.environment;
  if (environment === undefined) return [];
  return Array.isArray(environment)
    ? environment.map((item) => String(item).split('=')[0])
    : Object.keys(record(environment, 'environment'));
}

interface PortMapping {
  published?: number;
  target: number;
}

function composePorts(service: Record<string, unknown>): PortMapping[] {
  const expand = (range: string): number[] => {
    const [low, high] = range.split('-').map(Number);
    return high === undefined ? [low] : Array.from({ length: high - low + 1 }, (_, index) => low + index);
  };
  return optionalList(service.ports, 'ports').flatMap((entry): PortMapping[] => {
    if (isRecord(entry)) {
      return [
        {
          target: Number(entry.target),
          published: entry.published === undefined ? undefined : Number(entry.published),
        },
      ];
    }
    const parts = String(entry)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const targets = expand(parts[parts.length - 1]);
    const published = parts.length >= 2 ? expand(parts[parts.length - 2]) : [];
    return targets.map((target, index) => ({ target, published: published[index] }));
  });
}

function healthcheckCommand(service: Record<string, unknown>): string[] | undefined {
  if (!isRecord(service.healthcheck) || service.healthcheck.disable === true) return undefined;
  const test = service.healthcheck.test;
  if (typeof test === 'string') return ['CMD-SHELL', test];
  if (!Array.isArray(test) || test[0] === 'NONE') return undefined;
  return test.map(String);
}

function dependsOn(service: Record<string, unknown>): Record<string, string | undefined> {
  const value = service.depends_on;
  if (value === undefined) return {};
  if (Array.isArray(value)) return Object.fromEntries(value.map((name) => [String(name), undefined]));
  return Object.fromEntries(
    Object.entries(record(value, 'depends_on')).map(([name, options]) => [
      name,
      isRecord(options) ? (options.condition as string | undefined) : undefined,
    ]),
  );
}

function composeBuild(service: Record<string, unknown>): { context: string; dockerfile: string; args: Env } {
  const build = service.build;
  if (typeof build === 'string') return { context: build, dockerfile: 'Dockerfile', args: {} };
  const options = record(build, 'build');
  const args = options.args;
  const argEntries: Array<[string, string]> = Array.isArray(args)
    ? args.map((item) => String(item).split('=') as [string, string])
    : Object.entries(isRecord(args) ? args : {}).map(([key, value]) => [key, String(value)]);
  return {
    context: String(options.context ?? '.'),
    dockerfile: String(options.dockerfile ?? 'Dockerfile'),
    args: Object.fromEntries(argEntries),
  };
}

/** Named volumes a service mounts (bind mounts and anonymous volumes left out). */
function namedVolumes(service: Record<string, unknown>): string[] {
  return optionalList(service.volumes, 'volumes').flatMap((entry) => {
    if (isRecord(entry)) return entry.type === 'volume' && entry.source ? [String(entry.source)] : [];
    const parts = String(entry).split(':');
    return parts.length >= 2 && !/^[./~$]/.test(parts[0]) ? [parts[0]] : [];
  });
}

/** Container paths a service mounts volumes or binds at. */
function mountTargets(service: Record<string, unknown>): string[] {
  return optionalList(service.volumes, 'volumes').map((entry) =>
    isRecord(entry) ? String(entry.target) : (String(entry).split(':')[1] ?? String(entry)),
  );
}

// ---------------------------------------------------------------------------------------
// deploy/kubernetes

const KUBERNETES_DIR = 'deploy/kubernetes';

interface KubernetesObject {
  file: string;
  kind: string;
  name: string;
  namespace?: string;
  body: Record<string, unknown>;
}

function loadKubernetesObjects(): KubernetesObject[] {
  const directory = path.join(ROOT, KUBERNETES_DIR);
  return readdirSync(directory)
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(readFileSync(path.join(directory, file), 'utf8')).flatMap((document) => {
        if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
        const body: unknown = document.toJS();
        if (body === null || body === undefined) return [];
        const object = record(body, file);
        const metadata = record(object.metadata, `${file} metadata`);
        return [
          {
            file,
            kind: String(object.kind),
            name: String(metadata.name),
            namespace: metadata.namespace as string | undefined,
            body: object,
          },
        ];
      }),
    );
}

function kubernetesObject(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.find((object) => object.kind === kind && object.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in ${KUBERNETES_DIR}`);
  return found;
}

/** A ConfigMap's or Secret's string data. */
function configData(object: KubernetesObject): Env {
  const data: Env = {};
  for (const [key, value] of Object.entries(isRecord(object.body.data) ? object.body.data : {})) {
    data[key] = object.kind === 'Secret' ? Buffer.from(String(value), 'base64').toString('utf8') : String(value);
  }
  for (const [key, value] of Object.entries(isRecord(object.body.stringData) ? object.body.stringData : {}))
    data[key] = String(value);
  return data;
}

/** The environment a container gets, with ConfigMap and Secret references resolved. */
function containerEnvironment(objects: KubernetesObject[], container: Record<string, unknown>): Env {
  const environment: Env = {};
  for (const source of optionalList(container.envFrom, 'envFrom').map((entry) => record(entry, 'envFrom entry'))) {
    const prefix = String(source.prefix ?? '');
    const reference = isRecord(source.configMapRef)
      ? { kind: 'ConfigMap', ref: source.configMapRef }
      : { kind: 'Secret', ref: record(source.secretRef, 'envFrom secretRef') };
    for (const [key, value] of Object.entries(
      configData(kubernetesObject(objects, reference.kind, String(reference.ref.name))),
    ))
      environment[prefix + key] = value;
  }
  for (const variable of optionalList(container.env, 'env').map((entry) => record(entry, 'env entry'))) {
    const name = String(variable.name);
    if (variable.value !== undefined) {
      environment[name] = String(variable.value);
      continue;
    }
    const from = record(variable.valueFrom, `env ${name} valueFrom`);
    const reference = isRecord(from.configMapKeyRef)
      ? { kind: 'ConfigMap', ref: from.configMapKeyRef }
      : { kind: 'Secret', ref: record(from.secretKeyRef, `env ${name} secretKeyRef`) };
    const data = configData(kubernetesObject(objects, reference.kind, String(reference.ref.name)));
    const key = String(reference.ref.key);
    if (!(key in data))
      throw new Error(`env ${name}: ${reference.kind} ${String(reference.ref.name)} has no key ${key}`);
    environment[name] = data[key];
  }
  return environment;
}

function resolveContainerPort(container: Record<string, unknown>, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = optionalList(container.ports, 'ports')
    .map((entry) => record(entry, 'port'))
    .find((entry) => entry.name === port);
  if (!named) throw new Error(`the container has no port named ${String(port)}`);
  return Number(named.containerPort);
}

function httpProbe(container: Record<string, unknown>, probe: string): { path: string; port: number } {
  const httpGet = record(record(container[probe], probe).httpGet, `${probe}.httpGet`);
  return { path: String(httpGet.path), port: resolveContainerPort(container, httpGet.port) };
}

function selectorMatches(selector: Record<string, unknown>, labels: Record<string, unknown>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

// ---------------------------------------------------------------------------------------

const dockerfile = parseDockerfile(readRepoFile('Dockerfile'));
const entry = imageEntry(dockerfile);

describe('Dockerfile', () => {
  const stageNamed = (name: string | undefined): Stage => {
    const stage = dockerfile.stages.find((candidate) => candidate.name === name);
    if (!stage) throw new Error(`no stage named ${String(name)}`);
    return stage;
  };
  /** The final stage's COPY --from that brings `directory` of its stage, and that stage. */
  const copiedFromStage = (matches: (stage: Stage) => boolean, directoryOf: (stage: Stage) => string) => {
    for (const copy of dockerfile.final.copies.filter((candidate) => candidate.from)) {
      const stage = stageNamed(copy.from);
      if (!matches(stage)) continue;
      const landing = landingPath(copy, directoryOf(stage), { sourceWorkdir: stage.workdir, isDirectory: true });
      if (landing) return { stage, landing };
    }
    return undefined;
  };
  const runsIn = (stage: Stage) => lineage(stage).flatMap((ancestor) => ancestor.runs);
  const tsconfig = record(JSON.parse(readRepoFile('tsconfig.json')), 'tsconfig.json');
  const outDir = String(record(tsconfig.compilerOptions, 'compilerOptions').outDir);
  const buildStageFilter = (stage: Stage) => runsIn(stage).some((run) => /\bnpm run build\b/.test(run));
  const dist = copiedFromStage(buildStageFilter, (stage) => path.posix.resolve(stage.workdir, outDir));
  const productionDeps = copiedFromStage(
    (stage) => runsIn(stage).some((run) => /\bnpm ci\b.*--omit[= ]dev/.test(run)),
    (stage) => path.posix.join(stage.workdir, 'node_modules'),
  );
  const distRoot = (): string => {
    if (!dist) throw new Error(`the final stage copies no ${outDir} from a stage that runs npm run build`);
    return dist.landing;
  };

  it('builds with npm ci and npm run build, on the full Node image', () => {
    expect(dist).toBeDefined();
    const build = (dist as { stage: Stage }).stage;
    expect(runsIn(build).some((run) => /\bnpm ci\b/.test(run) && !/--omit/.test(run))).toBe(true);
    expect(
      record(JSON.parse(readRepoFile('tsconfig.build.json')), 'tsconfig.build.json').compilerOptions,
    ).toMatchObject({ rootDir: './' });
  });

  it('copies production dependencies from a stage that runs npm ci --omit=dev with build tools', () => {
    expect(productionDeps).toBeDefined();
    const { stage, landing } = productionDeps as { stage: Stage; landing: string };
    // better-sqlite3 compiles with node-gyp there: no slim or alpine base.
    expect(lineage(stage).pop()?.base).toMatch(/^node:[\w.-]+$/);
    expect(lineage(stage).pop()?.base).not.toMatch(/slim|alpine/);
    const lockCopied = lineage(stage).some((ancestor) =>
      ancestor.copies.some(
        (copy) =>
          !copy.from && landingPath(copy, 'package-lock.json') === path.posix.join(stage.workdir, 'package-lock.json'),
      ),
    );
    expect(lockCopied).toBe(true);
    // node resolves modules from dist/ upwards.
    expect(isAncestorOrSelf(path.posix.dirname(landing), distRoot())).toBe(true);
    const otherNodeModules = dockerfile.final.copies.filter(
      (copy) => copy.from && copy.from !== stage.name && copy.sources.some((source) => source.includes('node_modules')),
    );
    expect(otherNodeModules).toEqual([]);
  });

  it('runs on the slim image of the same Node and Debian release as the stage that compiled native addons', () => {
    const runtimeBase = lineage(dockerfile.final).pop()?.base ?? '';
    expect(runtimeBase).toMatch(/^node:\d+-bookworm-slim$/);
    const depsBase = lineage((productionDeps as { stage: Stage }).stage).pop()?.base ?? '';
    expect(runtimeBase).toBe(`${depsBase}-slim`);
    const engines = record(record(JSON.parse(readRepoFile('package.json')), 'package.json').engines, 'engines');
    const engineMajor = Number(/\d+/.exec(String(engines.node))?.[0]);
    expect(Number(/^node:(\d+)/.exec(runtimeBase)?.[1])).toBeGreaterThanOrEqual(engineMajor);
  });

  it('runs as a non-root user in production mode, without a HEALTHCHECK', () => {
    expect(dockerfile.final.user).toBeDefined();
    expect(['', 'root', '0'].includes((dockerfile.final.user ?? '').split(':')[0])).toBe(false);
    expect(dockerfile.final.env.NODE_ENV).toBe('production');
    expect(dockerfile.final.instructions.map((instruction) => instruction.keyword)).not.toContain('HEALTHCHECK');
  });

  it('copies proto/ where the compiled code finds it', () => {
    const healthProto = 'proto/grpc/health/v1/health.proto';
    expect(existsSync(path.join(ROOT, healthProto))).toBe(true);
    const landings = dockerfile.final.copies
      .filter((copy) => !copy.from)
      .map((copy) => landingPath(copy, healthProto))
      .filter((landing) => landing !== undefined);
    expect(landings).toHaveLength(1);
    const landing = landings[0] as string;
    // @co/proto walks up from its compiled folder to the first <dir>/proto/grpc/health/v1/health.proto.
    expect(landing.endsWith(`/${healthProto}`)).toBe(true);
    const protoParent = landing.slice(0, -healthProto.length - 1) || '/';
    expect(isAncestorOrSelf(protoParent, path.posix.join(distRoot(), 'libs/proto/src'))).toBe(true);
    expect(existsSync(path.join(ROOT, 'libs/proto/src/index.ts'))).toBe(true);
  });

  it('copies package.json next to the compiled code', () => {
    const landing = dockerfile.final.copies
      .filter((copy) => !copy.from)
      .map((copy) => landingPath(copy, 'package.json'))
      .find((found) => found !== undefined);
    expect(landing).toBeDefined();
    expect(isAncestorOrSelf(path.posix.dirname(landing as string), distRoot())).toBe(true);
  });

  it('execs node (so SIGTERM reaches it), naming the service by a variable set at run time', () => {
    expect(entry.nodeIsPid1).toBe(true);
    expect(entry.argv[0]).toBe('node');
    // compose passes the selector as a build argument, Kubernetes as a variable; an ARG
    // alone is gone at run time, so it must be carried into ENV.
    expect(dockerfile.final.args.has(entry.selector)).toBe(true);
    expect(dockerfile.final.env[entry.selector]).toMatch(new RegExp(`^\\$\\{?${entry.selector}\\b`));
  });

  it.each(SERVICE_NAMES)(
    'starts %s from its compiled entry point with the telemetry preload, like its npm script',
    (service) => {
      const argv = entry.argv.map((word) => word.replaceAll('{service}', service));
      const { preloads, script } = nodeInvocation(argv);
      const toSource = (compiled: string) => {
        const absolute = path.posix.resolve(dockerfile.final.workdir, compiled);
        expect(isAncestorOrSelf(distRoot(), absolute)).toBe(true);
        return path.posix.relative(distRoot(), absolute).replace(/\.js$/, '.ts');
      };
      expect(toSource(script)).toBe(`services/${service}/src/main.ts`);
      expect(existsSync(path.join(ROOT, toSource(script)))).toBe(true);
      expect(preloads.map(toSource)).toEqual(['libs/telemetry/src/register.ts']);
      expect(existsSync(path.join(ROOT, 'libs/telemetry/src/register.ts'))).toBe(true);

      const scripts = record(record(JSON.parse(readRepoFile('package.json')), 'package.json').scripts, 'scripts');
      const npmCommand = shellWords(String(scripts[`start:${service}`]).split('&&').pop() as string);
      const normalize = (words: string[]) => words.map((word) => word.replace(/^\.\//, ''));
      expect(normalize(argv)).toEqual(normalize(npmCommand));
    },
  );

  it('.dockerignore lets in what the build copies and keeps out local state', () => {
    const patterns = readDockerignore();
    const contextSources = dockerfile.stages.flatMap((stage) =>
      stage.copies.filter((copy) => !copy.from).flatMap((copy) => copy.sources),
    );
    for (const source of contextSources) {
      const normalized = path.posix.normalize(source).replace(/\/+$/, '');
      expect(existsSync(path.join(ROOT, normalized))).toBe(true);
      expect({ source: normalized, ignored: dockerIgnored(patterns, normalized) }).toEqual({
        source: normalized,
        ignored: false,
      });
    }
    const needed = [
      'proto/grpc/health/v1/health.proto',
      'libs/telemetry/src/register.ts',
      'libs/common/src/config/service-config.ts',
      ...SERVICE_NAMES.map((service) => `services/${service}/src/main.ts`),
    ];
    for (const file of needed)
      expect({ file, ignored: dockerIgnored(patterns, file) }).toEqual({ file, ignored: false });
    for (const file of [
      'node_modules/yaml/package.json',
      'dist/services/crew/src/main.js',
      '.env',
      'data/crew.sqlite',
      '.git/HEAD',
    ]) {
      expect({ file, ignored: dockerIgnored(patterns, file) }).toEqual({ file, ignored: true });
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const serviceNamesInCompose = Object.keys(compose.services);

  it('runs each of SERVICE_NAMES and nothing else but MariaDB, NATS and Jaeger', () => {
    expect([...serviceNamesInCompose].sort()).toEqual([...SERVICE_NAMES, ...INFRASTRUCTURE_SERVICES].sort());
  });

  it('publishes every host port once', () => {
    const published = Object.values(compose.services).flatMap((service) =>
      composePorts(service)
        .map((port) => port.published)
        .filter((port) => port !== undefined),
    );
    expect(published.length).toBeGreaterThan(0);
    expect(new Set(published).size).toBe(published.length);
  });

  it('gives every service its own database', () => {
    const names = SERVICE_NAMES.map((service) =>
      databaseName(composeEnvironment(compose.services[service]).CO_DB_URL ?? ''),
    );
    expect(new Set(names).size).toBe(SERVICE_NAMES.length);
  });

  it('declares every named volume it mounts', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of namedVolumes(service))
        expect({ service: name, volume, declared: volume in compose.volumes }).toEqual({
          service: name,
          volume,
          declared: true,
        });
    }
  });

  it('runs MariaDB 10.11 and NATS with JetStream, each with a health check, and Jaeger with OTLP', () => {
    const { mariadb, nats, jaeger } = compose.services;
    expect(mariadb.image).toMatch(/^mariadb:10\.11/);
    expect(composeEnvironment(mariadb).MARIADB_ROOT_PASSWORD).toBeTruthy();
    expect((healthcheckCommand(mariadb) ?? []).join(' ')).toMatch(/healthcheck\.sh|mariadb-admin.*ping/);

    expect(nats.image).toMatch(/^nats:2\.10/);
    const natsCommand =
      typeof nats.command === 'string' ? shellWords(nats.command) : list(nats.command, 'nats command').map(String);
    expect(natsCommand).toContain('-js');
    const monitorPort = natsCommand[natsCommand.indexOf('-m') + 1];
    expect((healthcheckCommand(nats) ?? []).join(' ')).toContain(`http://127.0.0.1:${monitorPort}/healthz`);
    const storeDir = natsCommand[natsCommand.indexOf('-sd') + 1];
    expect(mountTargets(nats)).toContain(storeDir);

    expect(jaeger.image).toMatch(/^jaegertracing\/all-in-one/);
    expect(composeEnvironment(jaeger).COLLECTOR_OTLP_ENABLED).toBe('true');
    expect(composePorts(jaeger).map((port) => port.target)).toEqual(expect.arrayContaining([16686, 4318]));
  });

  describe.each(SERVICE_NAMES)('%s', (service: ServiceName) => {
    const definition = compose.services[service] ?? {};
    const environment = composeEnvironment(definition);
    const ports = DEFAULT_PORTS[service];

    it('is built from the repository Dockerfile with the image entry selecting it', () => {
      const build = composeBuild(definition);
      expect(path.resolve(ROOT, build.context)).toBe(ROOT);
      expect(build.dockerfile).toBe('Dockerfile');
      expect(build.args[entry.selector]).toBe(service);
    });

    it('sets only variables the service or its telemetry reads', () => {
      const unknown = composeEnvironmentKeys(definition).filter((key) => !SERVICE_ENV_KEYS.has(key));
      expect(unknown).toEqual([]);
    });

    it('passes the configuration the service validates, on its default ports', () => {
      const config = loadServiceConfig(service, environment);
      expect(environment.CO_HTTP_PORT).toBe(String(ports.http));
      expect(environment.CO_GRPC_PORT).toBe(String(ports.grpc));
      expect([config.httpPort, config.grpcPort]).toEqual([ports.http, ports.grpc]);
      expect(config.dbUrl).toMatch(/^(mysql|mariadb):\/\//);
      expect(config.natsUrl).toBeDefined();
      expect(environment.OTEL_SERVICE_NAME).toBe(`co-${service}`);
    });

    it('points its database, bus and tracing at the compose services, with matching credentials', () => {
      const config = loadServiceConfig(service, environment);
      const database = new URL(config.dbUrl.replace(/^mariadb:/, 'mysql:'));
      expect(serviceNamesInCompose).toContain(database.hostname);
      expect(database.port === '' || database.port === '3306').toBe(true);
      const server = compose.services[database.hostname];
      const rootPassword = composeEnvironment(server).MARIADB_ROOT_PASSWORD;
      expect({ user: decodeURIComponent(database.username), password: decodeURIComponent(database.password) }).toEqual({
        user: 'root',
        password: rootPassword,
      });

      for (const natsUrl of (config.natsUrl ?? '').split(',')) {
        const nats = new URL(natsUrl);
        expect(serviceNamesInCompose).toContain(nats.hostname);
        expect(nats.port === '' || nats.port === '4222').toBe(true);
      }
      const otlp = new URL(config.otlpEndpoint ?? '');
      expect(serviceNamesInCompose).toContain(otlp.hostname);
      expect(otlp.port).toBe('4318');
    });

    it('publishes its HTTP and gRPC ports', () => {
      const targets = composePorts(definition).map((port) => port.target);
      expect(targets).toEqual(expect.arrayContaining([ports.http, ports.grpc]));
      for (const port of composePorts(definition)) expect(port.published).toBeDefined();
    });

    it('checks its own /ready (or /health) with node, which the slim image has', () => {
      const command = healthcheckCommand(definition);
      expect(command).toBeDefined();
      const words =
        (command as string[])[0] === 'CMD-SHELL'
          ? shellWords((command as string[])[1])
          : (command as string[]).slice(1);
      expect(words[0]).toBe('node');
      const urls = [...words.join(' ').matchAll(/https?:\/\/([^/:\s'"`]+|\[[^\]]+\]):(\d+)(\/[\w/-]*)/g)];
      expect(urls).toHaveLength(1);
      const [, host, port, probePath] = urls[0];
      expect(LOOPBACK_HOSTS).toContain(host);
      expect(Number(port)).toBe(ports.http);
      expect(['/ready', '/health']).toContain(probePath);
    });

    it('starts once the database and the bus it uses are healthy', () => {
      const dependencies = dependsOn(definition);
      const config = loadServiceConfig(service, environment);
      const used = [
        new URL(config.dbUrl.replace(/^mariadb:/, 'mysql:')).hostname,
        ...(config.natsUrl ?? '').split(',').map((url) => new URL(url).hostname),
      ];
      expect(Object.keys(dependencies)).toEqual(expect.arrayContaining(used));
      for (const [dependency, condition] of Object.entries(dependencies)) {
        expect({ dependency, condition }).toEqual({ dependency, condition: 'service_healthy' });
        expect({
          dependency,
          healthcheck: healthcheckCommand(compose.services[dependency] ?? {}) !== undefined,
        }).toEqual({ dependency, healthcheck: true });
      }
    });

    it('restarts unless stopped and gets time to drain before SIGKILL', () => {
      expect(definition.restart).toBe('unless-stopped');
      const config = loadServiceConfig(service, environment);
      const gracePeriod =
        definition.stop_grace_period === undefined ? 10 : durationSeconds(String(definition.stop_grace_period));
      expect(gracePeriod).toBeGreaterThanOrEqual(config.shutdownTimeoutMs / 1000 + FORCED_EXIT_MARGIN_SECONDS);
    });
  });
});

describe('deploy/kubernetes', () => {
  const objects = loadKubernetesObjects();
  const NAMESPACE = 'containerops';
  const kustomization = record(
    parseYaml(readFileSync(path.join(ROOT, KUBERNETES_DIR, 'kustomization.yaml'), 'utf8')),
    'kustomization.yaml',
  );
  const deployment = (service: ServiceName) => kubernetesObject(objects, 'Deployment', service);
  const podSpec = (service: ServiceName) =>
    record(record(record(deployment(service).body.spec, 'spec').template, 'template').spec, 'pod spec');
  const podLabels = (service: ServiceName) =>
    record(
      record(record(record(deployment(service).body.spec, 'spec').template, 'template').metadata, 'template metadata')
        .labels,
      'pod labels',
    );
  const container = (service: ServiceName) => {
    const containers = list(podSpec(service).containers, 'containers').map((entry) => record(entry, 'container'));
    expect(containers).toHaveLength(1);
    return containers[0];
  };
  const environment = (service: ServiceName) => containerEnvironment(objects, container(service));

  it('lists every manifest in kustomization.yaml except the examples', () => {
    const manifests = readdirSync(path.join(ROOT, KUBERNETES_DIR)).filter(
      (file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml' && !file.includes('.example.'),
    );
    expect([...list(kustomization.resources, 'resources').map(String)].sort()).toEqual(manifests.sort());
  });

  it('puts everything in the containerops namespace', () => {
    expect(objects.some((object) => object.kind === 'Namespace' && object.name === NAMESPACE)).toBe(true);
    const elsewhere = objects
      .filter((object) => object.kind !== 'Namespace' && object.namespace !== NAMESPACE)
      .map((object) => `${object.kind}/${object.name}`);
    expect(elsewhere).toEqual([]);
  });

  it('has a Deployment and a Service for each of SERVICE_NAMES and for nothing else', () => {
    for (const kind of ['Deployment', 'Service']) {
      expect(
        objects
          .filter((object) => object.kind === kind)
          .map((object) => object.name)
          .sort(),
      ).toEqual([...SERVICE_NAMES].sort());
    }
  });

  it('gives every service its own database', () => {
    const names = SERVICE_NAMES.map((service) => databaseName(environment(service).CO_DB_URL ?? ''));
    expect(new Set(names).size).toBe(SERVICE_NAMES.length);
  });

  describe.each(SERVICE_NAMES)('%s', (service: ServiceName) => {
    const ports = DEFAULT_PORTS[service];

    it('selects its own pods only', () => {
      const spec = record(deployment(service).body.spec, 'spec');
      expect(
        selectorMatches(record(record(spec.selector, 'selector').matchLabels, 'matchLabels'), podLabels(service)),
      ).toBe(true);
      const serviceSelector = record(
        record(kubernetesObject(objects, 'Service', service).body.spec, 'Service spec').selector,
        'Service selector',
      );
      for (const other of SERVICE_NAMES)
        expect({ other, selected: selectorMatches(serviceSelector, podLabels(other)) }).toEqual({
          other,
          selected: other === service,
        });
    });

    it('runs the one image, selecting the service the way the image entry reads it', () => {
      const image = String(container(service).image);
      const images = optionalList(kustomization.images, 'images').map((entry) => String(record(entry, 'image').name));
      expect(images).toContain(image.split(':')[0]);
      expect(environment(service)[entry.selector]).toBe(service);
    });

    it('sets only variables the service, its telemetry or the image entry reads; the DB URL from a Secret', () => {
      const known = new Set([...SERVICE_ENV_KEYS, entry.selector]);
      expect(Object.keys(environment(service)).filter((key) => !known.has(key))).toEqual([]);
      // The database URL holds a password: it comes from a Secret, never inline.
      const dbUrl = optionalList(container(service).env, 'env')
        .map((variable) => record(variable, 'env'))
        .find((variable) => variable.name === 'CO_DB_URL');
      expect(dbUrl?.value).toBeUndefined();
      expect(isRecord(dbUrl?.valueFrom) && isRecord(dbUrl.valueFrom.secretKeyRef)).toBe(true);
    });

    it('passes the configuration the service validates, on its default ports', () => {
      const env = environment(service);
      const config = loadServiceConfig(service, env);
      expect([config.httpPort, config.grpcPort]).toEqual([ports.http, ports.grpc]);
      expect(config.dbUrl).toMatch(/^(mysql|mariadb):\/\//);
      expect(config.natsUrl).toBeDefined();
      expect(env.OTEL_SERVICE_NAME).toBe(`co-${service}`);
    });

    it('exposes http and grpc container ports and probes /ready and /health on the HTTP port', () => {
      const main = container(service);
      expect(resolveContainerPort(main, 'http')).toBe(ports.http);
      expect(resolveContainerPort(main, 'grpc')).toBe(ports.grpc);
      expect(httpProbe(main, 'readinessProbe')).toEqual({ path: '/ready', port: ports.http });
      expect(httpProbe(main, 'livenessProbe')).toEqual({ path: '/health', port: ports.http });
      if (main.startupProbe !== undefined) expect(httpProbe(main, 'startupProbe').port).toBe(ports.http);
    });

    it('has a Service forwarding http and grpc to those container ports', () => {
      const main = container(service);
      const servicePorts = list(
        record(kubernetesObject(objects, 'Service', service).body.spec, 'Service spec').ports,
        'Service ports',
      ).map((entry) => record(entry, 'Service port'));
      const forwarded = Object.fromEntries(
        servicePorts.map((port) => [
          String(port.name),
          { port: Number(port.port), target: resolveContainerPort(main, port.targetPort ?? port.port) },
        ]),
      );
      expect(forwarded).toEqual({
        http: { port: ports.http, target: ports.http },
        grpc: { port: ports.grpc, target: ports.grpc },
      });
    });

    it('runs as a non-root user without privilege escalation, with resource requests', () => {
      const pod = podSpec(service);
      const main = container(service);
      const podSecurity = isRecord(pod.securityContext) ? pod.securityContext : {};
      const containerSecurity = isRecord(main.securityContext) ? main.securityContext : {};
      const security = { ...podSecurity, ...containerSecurity };
      expect(security.runAsNonRoot).toBe(true);
      // The image names its user (`node`); runAsNonRoot can only verify a numeric uid.
      expect(typeof security.runAsUser).toBe('number');
      expect(security.runAsUser).not.toBe(0);
      expect(containerSecurity.allowPrivilegeEscalation).toBe(false);
      const requests = record(record(main.resources, 'resources').requests, 'requests');
      expect(requests.cpu).toBeDefined();
      expect(requests.memory).toBeDefined();
    });

    it('can write its data folder and /tmp when the root filesystem is read-only', () => {
      const main = container(service);
      if (!isRecord(main.securityContext) || main.securityContext.readOnlyRootFilesystem !== true) return;
      const mounts = optionalList(main.volumeMounts, 'volumeMounts').map((mount) => record(mount, 'volumeMount'));
      const volumes = optionalList(podSpec(service).volumes, 'volumes').map((volume) =>
        String(record(volume, 'volume').name),
      );
      for (const mount of mounts) expect(volumes).toContain(String(mount.name));
      const dataDir = path.posix.resolve(dockerfile.final.workdir, environment(service).CO_DATA_DIR ?? './data');
      const mounted = mounts.map((mount) => String(mount.mountPath));
      expect(mounted).toEqual(expect.arrayContaining([dataDir, '/tmp']));
      for (const volume of optionalList(podSpec(service).volumes, 'volumes').map((entry) => record(entry, 'volume'))) {
        if (isRecord(volume.persistentVolumeClaim))
          kubernetesObject(objects, 'PersistentVolumeClaim', String(volume.persistentVolumeClaim.claimName));
      }
    });

    it('waits long enough on termination for the service to drain', () => {
      const config = loadServiceConfig(service, environment(service));
      const lifecycle = isRecord(container(service).lifecycle)
        ? (container(service).lifecycle as Record<string, unknown>)
        : {};
      const preStop = isRecord(lifecycle.preStop) ? lifecycle.preStop : {};
      let preStopSeconds = 0;
      if (isRecord(preStop.sleep)) preStopSeconds = Number(preStop.sleep.seconds);
      if (isRecord(preStop.exec)) {
        const command = list(preStop.exec.command, 'preStop command').map(String);
        if (command[0] === 'sleep') preStopSeconds = Number(command[1]);
      }
      const gracePeriod = Number(podSpec(service).terminationGracePeriodSeconds ?? 30);
      expect(gracePeriod).toBeGreaterThanOrEqual(
        preStopSeconds + config.shutdownTimeoutMs / 1000 + FORCED_EXIT_MARGIN_SECONDS,
      );
    });
  });
});

it('keeps the deployment files where the docs say they are', () => {
  for (const file of [
    'Dockerfile',
    '.dockerignore',
    'docker-compose.yml',
    'deploy/README.md',
    `${KUBERNETES_DIR}/kustomization.yaml`,
  ]) {
    expect({ file, present: existsSync(path.join(ROOT, file)) && statSync(path.join(ROOT, file)).isFile() }).toEqual({
      file,
      present: true,
    });
  }
});
