import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { buildLayer, sha256, type LayerEntry } from './image-layer';

async function list(blob: Buffer): Promise<tar.Header[]> {
  const headers: tar.Header[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      headers.push(header);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([gunzipSync(blob)]).pipe(extract);
  await done;
  return headers;
}

describe('buildLayer', () => {
  const entries: LayerEntry[] = [
    { path: '/usr/local/bin/tool', type: 'file', content: Buffer.from('#!/bin/sh\n'), executable: true },
    { path: '/bin/sh', type: 'symlink', target: '/bin/busybox' },
    { path: '/etc/passwd', type: 'file', content: Buffer.from('root:x:0:0::/root:/bin/sh\n') },
    { path: '/tmp', type: 'directory', mode: 0o1777 },
  ];

  it('gives the same bytes for the same entries, in any order', async () => {
    const one = await buildLayer(entries);
    const two = await buildLayer([...entries].reverse());
    expect(two.digest).toBe(one.digest);
    expect(one.digest).toBe(sha256(one.blob));
    expect(one.diffId).toBe(sha256(gunzipSync(one.blob)));
    const changed = await buildLayer([...entries.slice(1), { ...entries[0], content: Buffer.from('#!/bin/sh\n# 2\n') } as LayerEntry]);
    expect(changed.digest).not.toBe(one.digest);
  });

  it('sorts entries, adds parent folders, and owns everything by root at a fixed time', async () => {
    const headers = await list((await buildLayer(entries)).blob);
    expect(headers.map((header) => header.name)).toEqual(['bin/', 'bin/sh', 'etc/', 'etc/passwd', 'tmp/', 'usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/tool']);
    for (const header of headers) {
      expect(header).toMatchObject({ uid: 0, gid: 0 });
      expect(header.mtime?.getTime()).toBe(0);
    }
    const byName = new Map(headers.map((header) => [header.name, header]));
    expect(byName.get('usr/local/bin/tool')!.mode).toBe(0o755);
    expect(byName.get('etc/passwd')!.mode).toBe(0o644);
    expect(byName.get('tmp/')!.mode).toBe(0o1777);
    expect(byName.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: '/bin/busybox' });
  });

  it('refuses paths that leave the image or are listed twice', async () => {
    await expect(buildLayer([{ path: '/../etc/x', type: 'directory' }])).rejects.toThrow(/not a path inside the image/);
    await expect(buildLayer([entries[0], entries[0]])).rejects.toThrow(/twice/);
  });
});
