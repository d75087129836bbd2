import { lstat, readFile, readlink } from 'node:fs/promises';
import * as path from 'node:path';
import { type DebianHost, type DebianPackage, MissingPackageError } from './debian-host';
import { CO_JSON, ECHO_ENTRY, GIT_CLONE_ENTRY, RUN_SCRIPT_ENTRY } from './entry-scripts';
import type { LayerEntry } from './image-layer';

/**
 * Where the official images live: a public workspace (anyone pulls, anonymous callers
 * included) of the organization `official`. nucleus publishes the official components
 * from it (namespace `official`) and relies on these names.
 */
export const OFFICIAL_WORKSPACE = { name: 'official', org: 'official', project: 'components', description: 'Images of the official components, built by the platform from Debian packages' } as const;

/** The name recorded as the pusher of the official images and the creator of their workspace. */
export const OFFICIAL_ACTOR = 'system';

/**
 * An official image: what goes in it, taken from the host's Debian packages. `line` is
 * its tag: the version line of the component that runs it (`1.0` for the component's
 * 1.0.x versions). Rebuilt from newer packages, the image gets a new digest under the
 * same tag; nucleus publishes it as the line's next patch version. A change to what
 * the image holds beyond package updates (its entry script, say) starts a new line.
 */
export interface OfficialImage {
  /** The repository inside the workspace (`echo` → `official/echo`). */
  repository: string;
  line: string;
  title: string;
  /** The program the container runs unless the component says otherwise. */
  entrypoint: string;
  contents(host: DebianHost): Promise<ImageContents>;
}

export interface ImageContents {
  entries: LayerEntry[];
  /** The packages the files came from, recorded as labels of the image config. */
  packages: DebianPackage[];
}

const BUSYBOX = '/bin/busybox';
const GIT_CORE = '/usr/lib/git-core';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Folders and files every official image has: a root user, /tmp, /workspace, the inputs reader. */
function baseEntries(entryName: string, entryScript: string): LayerEntry[] {
  return [
    { path: '/tmp', type: 'directory', mode: 0o1777 },
    { path: '/workspace', type: 'directory' },
    { path: '/root', type: 'directory', mode: 0o700 },
    { path: '/etc/passwd', type: 'file', content: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
    { path: '/etc/group', type: 'file', content: Buffer.from('root:x:0:\n') },
    { path: '/usr/local/bin/co-json', type: 'file', content: Buffer.from(CO_JSON), executable: true },
    { path: `/usr/local/bin/${entryName}`, type: 'file', content: Buffer.from(entryScript), executable: true },
  ];
}

/** busybox from `busybox-static` (one static binary) with a link for each applet. */
async function busyboxEntries(host: DebianHost, taken: Set<string>): Promise<ImageContents> {
  const busybox = await host.requirePackage('busybox-static');
  const binary = await readFile(BUSYBOX).catch(() => {
    throw new MissingPackageError('busybox-static', `is installed but ${BUSYBOX} cannot be read`);
  });
  const entries: LayerEntry[] = [{ path: BUSYBOX, type: 'file', content: binary, executable: true }];
  for (const applet of await host.busyboxApplets(BUSYBOX)) {
    if (applet === BUSYBOX || taken.has(applet)) continue;
    entries.push({ path: applet, type: 'symlink', target: BUSYBOX });
  }
  return { entries, packages: [busybox] };
}

async function busyboxImage(host: DebianHost, entryName: string, entryScript: string): Promise<ImageContents> {
  const base = baseEntries(entryName, entryScript);
  const busybox = await busyboxEntries(host, new Set(base.map((entry) => entry.path)));
  return { entries: [...base, ...busybox.entries], packages: busybox.packages };
}

/**
 * git from the `git` package (the `git` program, its built-in commands as links, the
 * http(s) transport and the templates), the shared libraries both programs load with
 * the packages they come from, the CA bundle of `ca-certificates`, and busybox for sh
 * and the core utilities.
 */
async function gitImage(host: DebianHost): Promise<ImageContents> {
  const git = await host.requirePackage('git');
  const certificates = await host.requirePackage('ca-certificates');
  const gitFiles = await host.files('git');
  const entries = baseEntries('co-git-clone', GIT_CLONE_ENTRY);
  const program = `${GIT_CORE}/git`;
  const transport = `${GIT_CORE}/git-remote-http`;
  for (const file of [program, transport]) {
    if (!gitFiles.includes(file)) throw new MissingPackageError('git', `does not install ${file} on this host`);
    entries.push({ path: file, type: 'file', content: await readFile(file), executable: true });
  }
  entries.push({ path: '/usr/bin/git', type: 'symlink', target: '../lib/git-core/git' });
  for (const file of gitFiles) {
    const inCore = path.dirname(file) === GIT_CORE;
    const inTemplates = file.startsWith('/usr/share/git-core/templates/');
    if (!inCore && !inTemplates) continue;
    const stat = await lstat(file).catch(() => undefined);
    if (!stat) continue;
    if (inCore && stat.isSymbolicLink()) {
      // Built-in commands (`git-upload-pack` → git) and the other http(s) names of the transport.
      const target = await readlink(file);
      if (target === 'git' || target === 'git-remote-http') entries.push({ path: file, type: 'symlink', target });
    } else if (inTemplates && stat.isFile()) {
      entries.push({ path: file, type: 'file', content: await readFile(file), executable: (stat.mode & 0o111) !== 0 });
    }
  }
  const packages = new Map<string, DebianPackage>([
    [git.name, git],
    [certificates.name, certificates],
  ]);
  for (const library of await host.sharedLibraries([program, transport])) {
    entries.push({ path: library, type: 'file', content: await readFile(library), executable: true });
    const owner = await host.owner(library);
    if (!owner) continue;
    const found = await host.requirePackage(owner);
    packages.set(found.name, found);
  }
  const bundle = await readFile(CA_BUNDLE).catch(() => {
    throw new MissingPackageError('ca-certificates', `is installed but ${CA_BUNDLE} is missing (run update-ca-certificates)`);
  });
  entries.push({ path: CA_BUNDLE, type: 'file', content: bundle });
  const busybox = await busyboxEntries(host, new Set(entries.map((entry) => path.resolve(entry.path))));
  for (const found of busybox.packages) packages.set(found.name, found);
  return { entries: [...entries, ...busybox.entries], packages: [...packages.values()] };
}

/** The images dockyard builds at start, in this order. */
export const OFFICIAL_IMAGES: OfficialImage[] = [
  {
    repository: 'echo',
    line: '1.0',
    title: 'official/echo',
    entrypoint: '/usr/local/bin/co-echo',
    contents: (host) => busyboxImage(host, 'co-echo', ECHO_ENTRY),
  },
  {
    repository: 'run-script',
    line: '1.0',
    title: 'official/run-script',
    entrypoint: '/usr/local/bin/co-run-script',
    contents: (host) => busyboxImage(host, 'co-run-script', RUN_SCRIPT_ENTRY),
  },
  {
    repository: 'git-clone',
    line: '1.0',
    title: 'official/git-clone',
    entrypoint: '/usr/local/bin/co-git-clone',
    contents: gitImage,
  },
];
