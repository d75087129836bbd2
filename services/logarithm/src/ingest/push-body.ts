import type { Request } from 'express';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { InvalidInputError } from '@co/common';
import { PushMediaTypeError, PushTooLargeError } from './push-errors';

const gunzipAsync = promisify(gunzip);

/**
 * The JSON body of a push, read here rather than by the shared body parser: pushes have
 * their own, larger limit (CO_LOGARITHM_MAX_PUSH_BYTES), and log shippers gzip them.
 */
export async function readPushBody(request: Request, limit: number): Promise<unknown> {
  const type = (request.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new PushMediaTypeError(type);
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new PushTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PushTooLargeError(limit);
    chunks.push(chunk);
  }
  let body = Buffer.concat(chunks, size);
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'gzip') {
    try {
      body = await gunzipAsync(body, { maxOutputLength: limit });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw new PushTooLargeError(limit);
      throw new InvalidInputError('LOGS.INVALID_PUSH', 'The body says Content-Encoding: gzip but is not gzip data.');
    }
  } else if (encoding !== 'identity') {
    throw new InvalidInputError('LOGS.INVALID_PUSH', `Content-Encoding ${JSON.stringify(encoding)} is not read; send identity or gzip.`);
  }
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new InvalidInputError('LOGS.INVALID_PUSH', 'The body is not valid JSON.');
  }
}
