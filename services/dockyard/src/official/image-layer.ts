import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import * as tar from 'tar-stream';

const gzipAsync = promisify(gzip);

/** One path of an image's file system, absolute (`/bin/sh`). */
export type LayerEntry =
  | { path: string; type: 'file'; content: Buffer; executable?: boolean }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'directory'; mode?: number };

export interface BuiltLayer {
  /** The gzipped tar, as the registry keeps it. */
  blob: Buffer;
  /** `sha256:` of the blob. */
  digest: string;
  /** `sha256:` of the uncompressed tar: the image config's `rootfs.diff_ids` entry. */
  diffId: string;
}

/** Every entry's time: the same files give the same bytes, whenever they are packed. */
const FIXED_MTIME = new Date(0);

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Packs entries into one deterministic layer: sorted by path, parent folders added,
 * owner and group 0 without names, a fixed time, modes 0755 (folders, executables,
 * links) or 0644. The same entries always give the same tar, hence the same digests
 * (gzip's header carries no time or name here).
 */
export async function buildLayer(entries: LayerEntry[]): Promise<BuiltLayer> {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const normalized = normalizePath(entry.path);
    if (byPath.has(normalized)) throw new Error(`the layer lists ${normalized} twice`);
    byPath.set(normalized, { ...entry, path: normalized });
  }
  for (const entryPath of [...byPath.keys()]) {
    const parts = entryPath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { path: parent, type: 'directory' });
      else if (existing.type !== 'directory') throw new Error(`${parent} is both a folder and a ${existing.type} in the layer`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const common = { uid: 0, gid: 0, uname: '', gname: '', mtime: FIXED_MTIME };
  for (const entry of sorted) {
    if (entry.type === 'directory') {
      await add(pack, { ...common, name: `${entry.path}/`, type: 'directory', mode: entry.mode ?? 0o755 });
    } else if (entry.type === 'symlink') {
      await add(pack, { ...common, name: entry.path, type: 'symlink', linkname: entry.target, mode: 0o777 });
    } else {
      await add(pack, { ...common, name: entry.path, type: 'file', mode: entry.executable ? 0o755 : 0o644, size: entry.content.length }, entry.content);
    }
  }
  pack.finalize();
  const tarBytes = await collected;
  const blob = await gzipAsync(tarBytes, { level: 6 });
  return { blob, digest: sha256(blob), diffId: sha256(tarBytes) };
}

function add(pack: tar.Pack, header: Partial<tar.Header> & Pick<tar.Header, 'name'>, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, content ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
  });
}

/** `/usr/bin/git` → `usr/bin/git`; refuses paths that climb out or are empty. */
function normalizePath(value: string): string {
  const parts = value.split('/').filter((part) => part && part !== '.');
  if (!parts.length || parts.includes('..')) throw new Error(`${JSON.stringify(value)} is not a path inside the image`);
  return parts.join('/');
}
