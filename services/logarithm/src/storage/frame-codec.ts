import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { LogLabels, StoredLogLine } from './log-line';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
/** zlib's output buffer size for frames (its default, 16 KiB, is a callback per 16 KiB). */
const GZIP_CHUNK_BYTES = 256 * 1024;

/**
 * A frame is one gzip member of a segment file: the lines of one group commit for one
 * task and source, one JSON array per line (`[seq, ts, labels, text, truncated]`).
 * Members are independent, so a reader inflates only the frames its index rows name,
 * and the whole file still reads as one gzip stream (`zcat segment`).
 */
export function encodeFrame(lines: StoredLogLine[], level: number): Promise<Buffer> {
  // Lines of one stream share one labels object: serialized once.
  const labelsJson = new Map<object, string>();
  let body = '';
  for (const line of lines) {
    let labels = labelsJson.get(line.labels);
    if (labels === undefined) {
      labels = JSON.stringify(line.labels);
      labelsJson.set(line.labels, labels);
    }
    body += `[${line.seq},"${line.ts}",${labels},${JSON.stringify(line.text)},${line.truncated ? 1 : 0}]\n`;
  }
  // Large output chunks: zlib hands each one back to the event loop, and a commit's
  // frame of thousands of lines would otherwise take dozens of round trips under load.
  return gzipAsync(Buffer.from(body), { level, chunkSize: GZIP_CHUNK_BYTES });
}

export async function decodeFrame(bytes: Buffer): Promise<StoredLogLine[]> {
  const text = (await gunzipAsync(bytes)).toString('utf8');
  const lines: StoredLogLine[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) break;
    const [seq, ts, labels, body, truncated] = JSON.parse(text.slice(start, end)) as [number, string, LogLabels, string, number];
    const line: StoredLogLine = { seq: String(seq), ts, labels, text: body };
    if (truncated) line.truncated = true;
    lines.push(line);
    start = end + 1;
  }
  return lines;
}
