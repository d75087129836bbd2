import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Injectable } from '@nestjs/common';

const run = promisify(execFile);

/** Longest any one inspection may take; they answer in milliseconds. */
const COMMAND_TIMEOUT_MS = 30_000;

/** An installed Debian package: the name (without architecture) and its version. */
export interface DebianPackage {
  name: string;
  version: string;
}

/** A Debian package the image needs is not installed here; the image is skipped. */
export class MissingPackageError extends Error {
  constructor(readonly packageName: string, detail = 'is not installed on this host') {
    super(`the Debian package ${packageName} ${detail}`);
    this.name = 'MissingPackageError';
  }
}

/** The command's stdout; undefined when it cannot run or fails (unless `partial`: then what it printed). */
async function output(command: string, args: string[], partial = false): Promise<string | undefined> {
  try {
    const { stdout } = await run(command, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (error) {
    const printed = (error as { stdout?: unknown }).stdout;
    return partial && typeof printed === 'string' ? printed : undefined;
  }
}

/**
 * The names dpkg may know a file by: on merged-/usr systems a library ldd finds in
 * /lib was installed as /usr/lib (or the other way round), or under its real name.
 */
function dpkgNames(file: string, real: string): string[] {
  const names = new Set<string>();
  for (const name of [file, real]) {
    names.add(name);
    if (name.startsWith('/usr/')) names.add(name.slice('/usr'.length));
    else names.add(`/usr${name}`);
  }
  return [...names];
}

/**
 * What the official images take from the Debian system dockyard runs on: packages and
 * their versions and files (dpkg-query), the shared libraries a program loads (ldd).
 * Nothing is downloaded.
 */
@Injectable()
export class DebianHost {
  /** The installed package, or MissingPackageError naming it. */
  async requirePackage(name: string): Promise<DebianPackage> {
    const answer = await output('dpkg-query', ['-W', '-f', '${Status}\t${Version}', name]);
    const [status, version] = (answer ?? '').split('\t');
    if (!status?.endsWith(' installed') || !version) throw new MissingPackageError(name);
    return { name: name.replace(/:.*$/, ''), version };
  }

  /** The files the package installed (folders included), as dpkg lists them. */
  async files(name: string): Promise<string[]> {
    const answer = await output('dpkg-query', ['-L', name]);
    if (answer === undefined) throw new MissingPackageError(name);
    return answer.split('\n').filter((line) => line.startsWith('/'));
  }

  /** The package that installed `file` (as `name:arch`) under any name it has, or undefined when none did. */
  async owner(file: string): Promise<string | undefined> {
    const real = await realpath(file).catch(() => file);
    const names = dpkgNames(file, real);
    // dpkg-query -S fails when any name is unknown, but still prints the ones it knows.
    const answer = await output('dpkg-query', ['-S', ...names], true);
    for (const line of answer?.split('\n') ?? []) {
      const name = names.find((candidate) => line.endsWith(`: ${candidate}`));
      if (!name) continue;
      const owner = line.slice(0, line.length - `: ${name}`.length).split(', ')[0];
      if (owner && !owner.startsWith('diversion by')) return owner;
    }
    return undefined;
  }

  /** dpkg's architecture name (`amd64`, `arm64`), which is also OCI's for these two. */
  async architecture(): Promise<string> {
    const answer = (await output('dpkg', ['--print-architecture']))?.trim();
    if (!answer) throw new MissingPackageError('dpkg', 'does not answer (dpkg --print-architecture)');
    return answer;
  }

  /**
   * The shared libraries the programs load, with the dynamic loader, as the absolute
   * paths ldd names (the path the loader looks for, which may be a link on this host).
   */
  async sharedLibraries(programs: string[]): Promise<string[]> {
    const found = new Set<string>();
    for (const program of programs) {
      const answer = await output('ldd', [program]);
      if (answer === undefined) throw new MissingPackageError('libc-bin', `cannot list the libraries of ${program} (ldd failed)`);
      for (const line of answer.split('\n')) {
        const text = line.trim();
        if (text.includes('=> not found')) throw new MissingPackageError(text.split(' ')[0], `is needed by ${program} and cannot be found`);
        const linked = /=>\s+(\/\S+)\s+\(/.exec(text);
        const loader = /^(\/\S+)\s+\(/.exec(text);
        const library = linked?.[1] ?? loader?.[1];
        if (library) found.add(library);
      }
    }
    return [...found].sort();
  }

  /** The applets busybox was built with, as paths (`/bin/sh`, `/usr/bin/awk`). */
  async busyboxApplets(busybox: string): Promise<string[]> {
    const answer = await output(busybox, ['--list-full']);
    if (answer === undefined) throw new MissingPackageError('busybox-static', `is installed but ${busybox} does not list its applets`);
    return answer
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => `/${line}`);
  }
}
