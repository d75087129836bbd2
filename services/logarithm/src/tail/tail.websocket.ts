import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ACCESS_CONTROL, type AccessControl, type Credentials, ForbiddenError, parseAuthorization, UnauthenticatedError } from '@co/auth';
import { AllExceptionsFilter, DomainError, InvalidInputError, NotFoundError, UnavailableError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import type { EndedRun } from '../runs/run-ends';
import { lineView, type StoredLogLine } from '../storage/log-line';
import type { TailSink, TailTarget } from './run-tail';
import { endMessage, errorMessage } from './sse-sink';
import { TASK_NAME } from './tail.controller';
import { parseOffset, TailHub } from './tail-hub';
import { RunLogResolver } from '../access/run-log.resolver';

/** The subprotocol a browser offers, beside `bearer.<token>`, since it cannot send an Authorization header. */
export const TAIL_PROTOCOL = 'containerops.logs.v1';
const BEARER_PROTOCOL = 'bearer.';

const RUN_STREAM = /^\/api\/v1\/runs\/([^/]+)\/logs\/stream\/ws$/;
const TASK_STREAM = /^\/api\/v1\/runs\/([^/]+)\/tasks\/([^/]+)\/logs\/stream\/ws$/;

/** Close codes: 1000 after `end`, 1001 when the service stops, 1008 for a client too slow, 1013 when too many tails are open, 1011 on a failure. */
const CLOSE_CODES: Record<string, number> = { 'LOGS.TAIL_STOPPING': 1001, 'LOGS.TAIL_TOO_SLOW': 1008, 'LOGS.TAIL_BUSY': 1013 };

const CLOSE_WAIT_MS = 2000;

const errors = new AllExceptionsFilter();

/**
 * The WebSocket twin of the SSE tail, at the same paths plus `/ws`. Upgrade requests
 * never reach Nest's guards, so this checks them itself with the same AccessControl:
 * credentials from the Authorization header (or the `bearer.<token>` subprotocol),
 * `log:view` on the run's owner, 404 for a run the caller may not see. Messages are
 * JSON: `{"type":"line",…}`, `{"type":"end",…}`, `{"type":"error",…}`.
 */
@Injectable()
export class TailWebSocketServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly wss = new WebSocketServer({
    noServer: true,
    // Clients send nothing but pongs and a close.
    maxPayload: 4096,
    handleProtocols: (protocols) => (protocols.has(TAIL_PROTOCOL) ? TAIL_PROTOCOL : false),
  });
  private server?: Server;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head);

  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly adapterHost: HttpAdapterHost,
    private readonly modules: ModuleRef,
    private readonly hub: TailHub,
    private readonly resolver: RunLogResolver,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.onUpgrade);
  }

  onApplicationShutdown(): void {
    this.server?.off('upgrade', this.onUpgrade);
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'http://logarithm');
      const target = routeOf(url.pathname);
      if (!target) throw new NotFoundError('ROUTE.NOT_FOUND', `No WebSocket endpoint at ${url.pathname.slice(0, 200)}; live tails are at /api/v1/runs/{run}/logs/stream/ws.`);
      const after = parseOffset(url.searchParams.get('after') ?? undefined, 'after');
      const access = this.modules.get<AccessControl>(ACCESS_CONTROL, { strict: false });
      const credentials = credentialsOf(req);
      if (!credentials) throw new UnauthenticatedError('send Authorization: Bearer <token>, or offer the subprotocol bearer.<token>');
      const principal = await access.authenticate(credentials);
      const resource = await this.resolver.resolve(target.run);
      const decision = await access.authorize(principal, 'log:view', resource);
      if (!decision.allowed) throw decision.visible ? new ForbiddenError('log:view', decision.reason) : this.resolver.notFound(target.run);
      this.hub.admit();
      const owned: TailTarget = { org: resource.org, project: resource.project!, run: target.run, ...(target.task ? { task: target.task } : {}) };
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          const tail = this.hub.follow(owned, after, new WebSocketSink(ws));
          ws.on('close', () => tail.close());
        } catch (error) {
          // The limit was reached meanwhile, or the service began stopping.
          new WebSocketSink(ws).fail(error instanceof DomainError ? error : new UnavailableError('LOGS.TAIL_FAILED', 'The live tail could not start; retry shortly.'));
        }
      });
    } catch (error) {
      refuse(socket, error, this.runtime);
    }
  }
}

/** Messages on one WebSocket; sends not yet flushed count as the client's backlog. */
class WebSocketSink implements TailSink {
  private unflushed = 0;
  private readonly waiters: (() => void)[] = [];
  private awaitingPong = false;

  constructor(private readonly ws: WebSocket) {
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('close', () => this.wake());
  }

  line(line: StoredLogLine): void {
    this.send({ type: 'line', ...lineView(line) });
  }

  backlog(): { lines: number; bytes: number } {
    return { lines: this.unflushed, bytes: this.ws.bufferedAmount };
  }

  drained(): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN || this.unflushed === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A ping; a client that did not answer the previous one is gone. */
  heartbeat(): void {
    if (this.awaitingPong) {
      this.ws.terminate();
      return;
    }
    this.awaitingPong = true;
    this.ws.ping();
  }

  end(ended: EndedRun): void {
    this.send({ type: 'end', ...endMessage(ended) });
    this.close(1000, 'run ended');
  }

  fail(error: DomainError): void {
    this.send({ type: 'error', ...errorMessage(error) });
    this.close(CLOSE_CODES[error.code] ?? 1011, error.code);
  }

  /** A client that does not answer the close within CLOSE_WAIT_MS is cut: it would hold the server's shutdown. */
  private close(code: number, reason: string): void {
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), CLOSE_WAIT_MS).unref();
  }

  private send(message: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.unflushed += 1;
    this.ws.send(JSON.stringify(message), () => {
      this.unflushed -= 1;
      if (this.unflushed === 0) this.wake();
    });
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

function routeOf(pathname: string): { run: string; task?: string } | undefined {
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return undefined;
    }
  };
  const task = TASK_STREAM.exec(pathname);
  if (task) {
    const run = decode(task[1]);
    const name = decode(task[2]);
    if (run === undefined || name === undefined) return undefined;
    if (!TASK_NAME.test(name)) throw new InvalidInputError('LOGS.INVALID_TASK', `${JSON.stringify(name.slice(0, 64))} is not a task name; tasks are named <stage>.<action>.`);
    return { run, task: name };
  }
  const run = RUN_STREAM.exec(pathname);
  const id = run ? decode(run[1]) : undefined;
  return id === undefined ? undefined : { run: id };
}

/** The Authorization header, else a `bearer.<token>` subprotocol (what browsers can send). */
function credentialsOf(req: IncomingMessage): Credentials | undefined {
  const header = parseAuthorization(req.headers.authorization);
  if (header) return header;
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((protocol) => protocol.trim());
  const bearer = offered.find((protocol) => protocol.startsWith(BEARER_PROTOCOL) && protocol.length > BEARER_PROTOCOL.length);
  return bearer ? { scheme: 'bearer', token: bearer.slice(BEARER_PROTOCOL.length) } : undefined;
}

/** Answers a refused upgrade as plain HTTP, with the same error body and status as any endpoint. */
function refuse(socket: Duplex, error: unknown, runtime: ServiceRuntime): void {
  const mapped = errors.map(error);
  if (mapped.httpStatus >= 500 && !(error instanceof DomainError)) {
    runtime.logger.error({ err: error, errorId: mapped.body.error.details?.errorId }, 'a live tail upgrade failed');
  }
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(mapped.body);
  const headers = [
    `HTTP/1.1 ${mapped.httpStatus} ${STATUS_CODES[mapped.httpStatus] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  if (error instanceof UnauthenticatedError) headers.push(`WWW-Authenticate: ${error.challenge()}`);
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
