import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { BlobInfo, BlobStore } from '../storage/blob-store';
import { BlobTooLargeError } from '../storage/storage-errors';
import { ChartInvalidError, parseChartYaml, type ChartMetadata } from './chart-metadata';

const MiB = 1024 * 1024;

/** What a chart package may hold; a package over one of them is refused (400), naming it. */
export interface ChartArchiveLimits {
  /** Entries (files and folders) in the tar. */
  maxEntries: number;
  /** Size of Chart.yaml. */
  maxChartYamlBytes: number;
  /** Sum of the unpacked file sizes (a small gzip may unpack to gigabytes). */
  maxUnpackedBytes: number;
}

/** Helm itself refuses charts that unpack to more than 100 MiB. */
export const CHART_ARCHIVE_LIMITS: ChartArchiveLimits = { maxEntries: 10_000, maxChartYamlBytes: MiB, maxUnpackedBytes: 100 * MiB };

/**
 * Reads a chart package (gzip-compressed tar) as a stream and returns its Chart.yaml
 * metadata. Refused (ChartInvalidError): anything but gzip, a broken tar, absolute
 * entry names or ones with `.`/`..` parts or backslashes, links and devices, more than
 * one top-level folder, no `<folder>/Chart.yaml`, or a limit exceeded. The input is
 * read to its end when the package is valid.
 */
export async function inspectChartArchive(source: Readable, limits: ChartArchiveLimits = CHART_ARCHIVE_LIMITS): Promise<ChartMetadata> {
  const gunzip = createGunzip();
  const extract = tar.extract();
  let sawHeader = false;
  const fail = (error: Error) => extract.destroy(error);
  source.on('error', fail);
  source.once('data', (chunk: Buffer) => {
    sawHeader = true;
    if (chunk.length >= 2 && (chunk[0] !== 0x1f || chunk[1] !== 0x8b)) fail(new ChartInvalidError('the chart package is not gzip-compressed: a chart is the .tgz that `helm package` makes'));
  });
  gunzip.on('error', (error) => fail(new ChartInvalidError(`the chart package is not a valid gzip stream (${error.message})`)));
  source.pipe(gunzip).pipe(extract);

  let entries = 0;
  let unpacked = 0;
  const tops = new Set<string>();
  let chartYaml: { folder: string; text: string } | undefined;
  try {
    for await (const entry of extract) {
      entries += 1;
      if (entries > limits.maxEntries) throw new ChartInvalidError(`the chart package holds more than ${limits.maxEntries} entries, the most accepted`);
      const parts = entryParts(entry.header.name);
      const type = entry.header.type ?? 'file';
      if (type !== 'file' && type !== 'contiguous-file' && type !== 'directory') {
        throw new ChartInvalidError(`the chart package holds ${type} ${printable(entry.header.name)}: only files and folders are accepted`);
      }
      tops.add(parts[0]);
      if (tops.size > 1) throw new ChartInvalidError('the chart package holds more than one top-level folder: a chart is one folder named after it');
      const isChartYaml = type !== 'directory' && parts.length === 2 && parts[1] === 'Chart.yaml';
      if (isChartYaml && chartYaml) throw new ChartInvalidError('the chart package holds Chart.yaml twice');
      if (isChartYaml && (entry.header.size ?? 0) > limits.maxChartYamlBytes) {
        throw new ChartInvalidError(`Chart.yaml is larger than ${limits.maxChartYamlBytes} bytes, the most accepted`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        unpacked += chunk.length;
        if (unpacked > limits.maxUnpackedBytes) throw new ChartInvalidError(`the chart package unpacks to more than ${limits.maxUnpackedBytes} bytes, the most accepted`);
        if (isChartYaml) chunks.push(chunk);
      }
      if (isChartYaml) chartYaml = { folder: parts[0], text: Buffer.concat(chunks).toString('utf8') };
    }
  } catch (error) {
    source.unpipe(gunzip);
    gunzip.destroy();
    if (error instanceof ChartInvalidError) throw error;
    if (!sawHeader) throw new ChartInvalidError('the chart package is empty');
    throw new ChartInvalidError(`the chart package is not a valid tar archive (${(error as Error).message})`);
  } finally {
    source.off('error', fail);
  }
  if (!sawHeader || entries === 0) throw new ChartInvalidError('the chart package is empty: it must hold <chart>/Chart.yaml');
  if (!chartYaml) throw new ChartInvalidError('the chart package holds no <chart>/Chart.yaml: package the chart with `helm package <folder>`');
  return parseChartYaml(chartYaml.text);
}

/** Splits a tar entry name, refusing names that could leave the chart's folder. */
function entryParts(name: string): string[] {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  // eslint-disable-next-line no-control-regex
  if (!trimmed || trimmed.startsWith('/') || /[\\\u0000]/.test(trimmed) || /^[A-Za-z]:/.test(trimmed)) {
    throw new ChartInvalidError(`the chart package holds the entry ${printable(name)}: entry names must be relative paths without backslashes`);
  }
  const parts = trimmed.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new ChartInvalidError(`the chart package holds the entry ${printable(name)}: entry names may not have empty, "." or ".." parts`);
  }
  return parts;
}

function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return JSON.stringify(clean.length > 120 ? `${clean.slice(0, 120)}…` : clean);
}

/**
 * Streams `source` into the BlobStore while `inspect` reads the same bytes: a package
 * that inspection refuses is never stored (the store's write is cancelled), and none is
 * ever held whole in memory. When either side fails, the rest of `source` is drained so
 * that the client receives the answer.
 */
export async function storeInspected<T>(
  source: Readable,
  blobs: BlobStore,
  maxBytes: number,
  inspect: (stream: Readable) => Promise<T>,
): Promise<{ blob: BlobInfo; result: T }> {
  const toStore = new PassThrough();
  const toCheck = new PassThrough();
  let stopped = false;
  const stop = (error: Error) => {
    if (stopped) return;
    stopped = true;
    source.unpipe(toStore);
    source.unpipe(toCheck);
    toStore.destroy(error);
    toCheck.destroy(error);
    if (!source.destroyed) source.resume();
  };
  const cut = () => {
    if (!source.readableEnded) stop(new Error('the upload was interrupted'));
  };
  source.once('close', cut);
  source.once('error', stop);
  source.pipe(toStore);
  source.pipe(toCheck);
  const storing = blobs.put(toStore, { maxBytes }).catch((error: Error) => {
    stop(error);
    throw error;
  });
  const checking = inspect(toCheck).then(
    (result) => {
      // Whatever follows the archive's end is stored, not inspected.
      toCheck.resume();
      return result;
    },
    (error: Error) => {
      stop(error);
      throw error;
    },
  );
  const [stored, checked] = await Promise.allSettled([storing, checking]);
  source.off('close', cut);
  source.off('error', stop);
  if (stored.status === 'rejected' && stored.reason instanceof BlobTooLargeError) throw stored.reason;
  if (checked.status === 'rejected') throw checked.reason;
  if (stored.status === 'rejected') throw stored.reason;
  return { blob: stored.value, result: checked.value };
}

export { ChartInvalidError };
