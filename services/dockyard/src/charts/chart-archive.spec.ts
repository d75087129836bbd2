import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { inspectChartArchive, storeInspected } from './chart-archive';
import { ChartInvalidError } from './chart-metadata';
import { isChartName, isChartVersion, packageCandidates } from './chart-names';
import type { BlobStore } from '../storage/blob-store';

interface Entry {
  name: string;
  body?: string;
  type?: 'file' | 'directory' | 'symlink';
}

async function tgz(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) {
    if (entry.type === 'symlink') pack.entry({ name: entry.name, type: 'symlink', linkname: '/etc/passwd' });
    else if (entry.type === 'directory') pack.entry({ name: entry.name, type: 'directory' });
    else pack.entry({ name: entry.name }, entry.body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const CHART_YAML = 'apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: 1.16\ndescription: A demo\nkeywords: [a, b]\nmaintainers:\n  - name: Ann\n    email: ann@example.com\n';

async function inspect(bytes: Buffer) {
  return inspectChartArchive(Readable.from([bytes]));
}

describe('chart packages', () => {
  it('reads Chart.yaml of a package laid out as helm package does', async () => {
    const bytes = await tgz([
      { name: 'demo/Chart.yaml', body: CHART_YAML },
      { name: 'demo/values.yaml', body: 'replicas: 1\n' },
      { name: 'demo/templates/', type: 'directory' },
      { name: 'demo/charts/sub/Chart.yaml', body: 'apiVersion: v2\nname: sub\nversion: 0.1.0\n' },
    ]);
    await expect(inspect(bytes)).resolves.toEqual({
      apiVersion: 'v2',
      name: 'demo',
      version: '1.2.3',
      appVersion: '1.16',
      description: 'A demo',
      keywords: ['a', 'b'],
      maintainers: [{ name: 'Ann', email: 'ann@example.com' }],
    });
  });

  it.each<[string, Entry[] | Buffer, RegExp]>([
    ['not gzip', Buffer.from('just some text that is no archive'), /not gzip-compressed/],
    ['gzip but no tar', gzipSync(Buffer.from('x'.repeat(2000))), /not a valid tar archive|no <chart>\/Chart.yaml/],
    ['no Chart.yaml', [{ name: 'demo/values.yaml', body: 'a: 1' }], /no <chart>\/Chart.yaml/],
    ['a parent-folder entry', [{ name: 'demo/Chart.yaml', body: CHART_YAML }, { name: 'demo/../../evil', body: 'x' }], /may not have empty, "." or ".." parts/],
    ['an absolute entry', [{ name: '/etc/cron.d/x', body: 'x' }], /must be relative paths/],
    ['a symlink', [{ name: 'demo/Chart.yaml', body: CHART_YAML }, { name: 'demo/link', type: 'symlink' }], /only files and folders/],
    ['two top-level folders', [{ name: 'demo/Chart.yaml', body: CHART_YAML }, { name: 'other/Chart.yaml', body: CHART_YAML }], /more than one top-level folder/],
    ['a bad chart name', [{ name: 'demo/Chart.yaml', body: 'apiVersion: v2\nname: ../up\nversion: 1.0.0\n' }], /not a valid chart name/],
    ['a bad version', [{ name: 'demo/Chart.yaml', body: 'apiVersion: v2\nname: demo\nversion: one\n' }], /not a semantic version/],
    ['no apiVersion', [{ name: 'demo/Chart.yaml', body: 'name: demo\nversion: 1.0.0\n' }], /apiVersion: v2/],
    ['broken YAML', [{ name: 'demo/Chart.yaml', body: 'name: [demo\n' }], /not valid YAML/],
  ])('refuses %s', async (_what, content, message) => {
    const bytes = Buffer.isBuffer(content) ? content : await tgz(content);
    const refused = await inspect(bytes).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ChartInvalidError);
    expect((refused as Error).message).toMatch(message);
  });

  it('refuses more entries, a larger Chart.yaml or more unpacked bytes than the limits', async () => {
    const many = await tgz([{ name: 'demo/Chart.yaml', body: CHART_YAML }, ...Array.from({ length: 20 }, (_, index) => ({ name: `demo/f${index}`, body: 'x' }))]);
    await expect(inspectChartArchive(Readable.from([many]), { maxEntries: 10, maxChartYamlBytes: 1024, maxUnpackedBytes: 1e6 })).rejects.toThrow(/more than 10 entries/);
    const big = await tgz([{ name: 'demo/Chart.yaml', body: `${CHART_YAML}# ${'x'.repeat(5000)}\n` }]);
    await expect(inspectChartArchive(Readable.from([big]), { maxEntries: 10, maxChartYamlBytes: 1024, maxUnpackedBytes: 1e6 })).rejects.toThrow(/Chart.yaml is larger/);
    const bomb = await tgz([{ name: 'demo/Chart.yaml', body: CHART_YAML }, { name: 'demo/zeros', body: '\0'.repeat(200_000) }]);
    await expect(inspectChartArchive(Readable.from([bomb]), { maxEntries: 10, maxChartYamlBytes: 1024, maxUnpackedBytes: 100_000 })).rejects.toThrow(/unpacks to more than/);
  });

  it('stores nothing when inspection refuses the package', async () => {
    let stored = false;
    const blobs = {
      async put(source: Readable) {
        for await (const _chunk of source) {
          // consumed like the filesystem store does
        }
        stored = true;
        return { digest: 'sha256:x', size: 1 };
      },
    } as unknown as BlobStore;
    const bytes = Buffer.from('definitely not gzip');
    await expect(storeInspected(Readable.from([bytes]), blobs, 1e6, (stream) => inspectChartArchive(stream))).rejects.toBeInstanceOf(ChartInvalidError);
    expect(stored).toBe(false);
  });
});

describe('chart names', () => {
  it('accepts Helm chart names and semantic versions only', () => {
    expect(['nginx', 'my-app', 'a.b_c', 'x1'].every(isChartName)).toBe(true);
    expect(['', '..', '.hidden', 'Upper', 'a/b', 'a\\b', '-x', 'x-', 'a'.repeat(101)].some(isChartName)).toBe(false);
    expect(['1.0.0', 'v1.2.3', '1.0.0-rc.1+build.5'].every(isChartVersion)).toBe(true);
    expect(['1.0', 'latest', '../1.0.0', '1.0.0/x', ''].some(isChartVersion)).toBe(false);
  });

  it('reads a package file name whose name and version both hold dashes', () => {
    expect(packageCandidates('my-app-1.0.0-rc.1.tgz', '.tgz')).toEqual([{ name: 'my-app', version: '1.0.0-rc.1' }]);
    expect(packageCandidates('demo-1.2.3.tgz.prov', '.tgz.prov')).toEqual([{ name: 'demo', version: '1.2.3' }]);
    expect(packageCandidates('../../etc-1.0.0.tgz', '.tgz')).toEqual([]);
  });
});
