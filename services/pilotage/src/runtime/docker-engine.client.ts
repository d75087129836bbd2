import * as http from 'node:http';
import { type LogLine, RuntimeError, RuntimeUnavailableError } from './container-runtime';
import { type DockerEndpoint, describeEndpoint } from './docker-socket';

export interface EngineRequest {
  query?: Record<string, string | number | boolean | undefined>;
  /** A Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Error statuses answered to the caller instead of thrown. */
  allow?: number[];
  timeoutMs?: number;
}

export interface EngineAnswer<T> {
  status: number;
  body: T;
}

/** The engine answered with an error status; `engineMessage` is its own `message`. */
export class DockerApiError extends RuntimeError {
  constructor(
    readonly status: number,
    readonly engineMessage: string,
    request: string,
  ) {
    super(`the container engine answered ${request} with ${status}: ${engineMessage}`, 'failed');
  }
}

/** A minimal Docker Engine API client over a unix socket or plain HTTP, on Node's `http`. */
export class DockerEngineClient {
  /** The endpoint as people write it, for messages. */
  readonly endpoint: string;
  private readonly target: http.RequestOptions;
  private readonly prefix: string;
  // No keep-alive: the engine may drop idle connections, and a fresh unix-socket connection is cheap.
  private readonly agent = new http.Agent({ keepAlive: false });

  constructor(endpoint: DockerEndpoint, apiVersion = '1.41') {
    this.endpoint = describeEndpoint(endpoint);
    if ('socketPath' in endpoint) {
      this.target = { socketPath: endpoint.socketPath };
    } else {
      const url = new URL(endpoint.baseUrl);
      this.target = { host: url.hostname, port: Number(url.port || 80) };
    }
    this.prefix = `/v${apiVersion.replace(/^v/, '')}`;
  }

  /** Sends a request; the answer, whatever its status, is the caller's to read. */
  send(method: string, path: string, request: EngineRequest = {}): Promise<http.IncomingMessage> {
    const raw = Buffer.isBuffer(request.body);
    const body = request.body === undefined ? undefined : raw ? (request.body as Buffer) : Buffer.from(JSON.stringify(request.body));
    const headers: http.OutgoingHttpHeaders = {
      ...(body && { 'Content-Length': body.length, 'Content-Type': raw ? 'application/octet-stream' : 'application/json' }),
      ...request.headers,
    };
    return new Promise((resolve, reject) => {
      const req = http.request(
        { ...this.target, agent: this.agent, method, path: this.prefix + path + queryString(request.query), headers, signal: request.signal },
        resolve,
      );
      req.on('error', (error) => reject(this.connectionError(error)));
      if (request.timeoutMs) {
        const timeoutMs = request.timeoutMs;
        req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      }
      req.end(body);
    });
  }

  /** Sends a request and reads the whole answer (JSON when it parses); error statuses not in `allow` throw. */
  async call<T = unknown>(method: string, path: string, request: EngineRequest = {}): Promise<EngineAnswer<T>> {
    const response = await this.send(method, path, request);
    const status = response.statusCode ?? 0;
    const text = await this.readText(response);
    if (status >= 400 && !request.allow?.includes(status)) throw new DockerApiError(status, engineMessage(text, status), `${method} ${path}`);
    return { status, body: parseJson(text) as T };
  }

  /** Sends a request whose answer is read as a stream; error statuses throw. */
  async stream(method: string, path: string, request: EngineRequest = {}): Promise<http.IncomingMessage> {
    const response = await this.send(method, path, request);
    const status = response.statusCode ?? 0;
    if (status < 400) return response;
    throw new DockerApiError(status, engineMessage(await this.readText(response), status), `${method} ${path}`);
  }

  private async readText(response: http.IncomingMessage): Promise<string> {
    try {
      return (await readAll(response)).toString('utf8');
    } catch (error) {
      throw this.connectionError(error as Error);
    }
  }

  /** A failed connection, or one lost while reading a stream, as the runtime's error. */
  connectionError(error: NodeJS.ErrnoException): Error {
    if (error.name === 'AbortError' || !error.code) return error;
    const hint = error.code === 'EACCES' ? 'may this user open the socket?' : 'is Docker or Podman running?';
    return new RuntimeUnavailableError(`cannot reach the container engine at ${this.endpoint}: ${error.message}; ${hint}`);
  }
}

function queryString(query: EngineRequest['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** Error answers carry `{"message": ...}`; anything else is shown as it came. */
export function engineMessage(text: string, status: number): string {
  const body = parseJson(text) as { message?: unknown } | string | undefined;
  if (body && typeof body === 'object' && typeof body.message === 'string') return body.message;
  return (typeof body === 'string' && body.trim()) || http.STATUS_CODES[status] || `status ${status}`;
}

/** Progress streams (pull, import) are JSON objects one per line. */
export async function* readJsonLines<T>(stream: AsyncIterable<Buffer>): AsyncGenerator<T> {
  let rest = '';
  for await (const chunk of stream) {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) yield JSON.parse(line) as T;
  }
  if (rest.trim()) yield JSON.parse(rest) as T;
}

/** Longer lines are cut here and marked, so one runaway line cannot exhaust memory. */
export const MAX_LOG_LINE_BYTES = 64 * 1024;
const TRUNCATED = ' [truncated]';
const FRAME_HEADER_BYTES = 8;

/**
 * Reads a container's log stream (`timestamps=1`, no TTY) into lines. The body is
 * multiplexed: frames of an 8-byte header (stream 1 = stdout, 2 = stderr, three zero
 * bytes, uint32 big-endian length) and a payload holding one log record,
 * `<RFC 3339 time> <text>`. A record without a trailing newline is part of a line the
 * stream's next record continues: engines split long lines (Podman at 8 KiB, Docker at
 * 16 KiB), each part with its own timestamp; the line keeps its first part's time.
 */
export async function* demultiplexLogs(body: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<LogLine> {
  const lines = { stdout: new LineAssembler('stdout'), stderr: new LineAssembler('stderr') };
  let buffered: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= FRAME_HEADER_BYTES) {
      if (buffered[0] > 2 || buffered.readUIntBE(1, 3) !== 0) {
        throw new RuntimeError('the container engine sent logs without stream framing (was the container created with a TTY?)', 'failed');
      }
      const end = FRAME_HEADER_BYTES + buffered.readUInt32BE(4);
      if (buffered.length < end) break;
      yield* lines[buffered[0] === 2 ? 'stderr' : 'stdout'].push(buffered.subarray(FRAME_HEADER_BYTES, end));
      buffered = buffered.subarray(end);
    }
  }
  yield* lines.stdout.flush();
  yield* lines.stderr.flush();
}

/** One stream's current line, assembled from records. */
class LineAssembler {
  private parts: Buffer[] = [];
  private size = 0;
  private time?: Date;
  /** The current line was already emitted truncated; drop the rest up to its newline. */
  private skipping = false;

  constructor(private readonly stream: LogLine['stream']) {}

  *push(record: Buffer): Generator<LogLine> {
    const { time, text } = splitTimestamp(record);
    let start = 0;
    for (let newline = text.indexOf(0x0a); newline >= 0; newline = text.indexOf(0x0a, start)) {
      const line = this.append(text.subarray(start, newline), time, true);
      if (line) yield line;
      start = newline + 1;
    }
    const partial = start < text.length ? this.append(text.subarray(start), time, false) : undefined;
    if (partial) yield partial;
  }

  /** The last line when the stream ended without a newline. */
  *flush(): Generator<LogLine> {
    if (this.size > 0 && !this.skipping) yield this.take('');
  }

  private append(text: Buffer, time: Date, completesLine: boolean): LogLine | undefined {
    if (this.skipping) {
      this.skipping = !completesLine;
      return undefined;
    }
    this.time ??= time;
    if (this.size + text.length > MAX_LOG_LINE_BYTES) {
      this.parts.push(text.subarray(0, utf8Boundary(text, MAX_LOG_LINE_BYTES - this.size)));
      this.skipping = !completesLine;
      return this.take(TRUNCATED);
    }
    this.parts.push(text);
    this.size += text.length;
    return completesLine ? this.take('') : undefined;
  }

  private take(suffix: string): LogLine {
    const line: LogLine = { stream: this.stream, time: this.time ?? new Date(), text: Buffer.concat(this.parts).toString('utf8') + suffix };
    this.parts = [];
    this.size = 0;
    this.time = undefined;
    return line;
  }
}

/** Docker stamps RFC 3339 with nanoseconds, Podman 4.3 whole seconds; Date keeps milliseconds. */
function splitTimestamp(record: Buffer): { time: Date; text: Buffer } {
  const space = record.indexOf(0x20);
  const prefix = space > 0 && space <= 40 ? record.toString('latin1', 0, space) : '';
  const time = /^\d{4}-\d\d-\d\dT/.test(prefix) ? new Date(prefix) : undefined;
  return time && !Number.isNaN(time.getTime()) ? { time, text: record.subarray(space + 1) } : { time: new Date(), text: record };
}

/** The largest length ≤ `limit` that does not split a UTF-8 character. */
function utf8Boundary(text: Buffer, limit: number): number {
  let end = Math.min(limit, text.length);
  while (end > 0 && end < text.length && (text[end] & 0xc0) === 0x80) end--;
  return end;
}
