import { pipeline } from 'node:stream/promises';
import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '@co/auth';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { byteRange } from '../storage/byte-range';
import { RegistryAccess, RegistryUnauthorizedError, type RegistryAction, type RegistryCaller } from '../access/registry-access';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import type { ByteRange } from '../storage/blob-store';
import { BlobsService, rangeHeader } from './blobs.service';
import { ManifestService, MEDIA_TYPES, type ImageActor } from './manifests.service';
import { isTag, parseReference, parseRegistryPath, printable, requireDigest, requireRepositoryName, type RegistryRoute } from './names';
import { OciError } from './oci-errors';

const API_VERSION = { name: 'Docker-Distribution-API-Version', value: 'registry/2.0' };
/** The most tags one page of the tag list holds, whatever `n` asks for. */
export const MAX_TAGS_PAGE = 1000;

/**
 * The OCI Distribution Specification v1.1 at /v2/. Auth is the registry's own (Docker
 * token authentication, Basic with an API token, anonymous pulls of public
 * workspaces), so the handler is public to the guard and asks RegistryAccess itself.
 * Bodies other than JSON reach it unread and are streamed.
 */
@ApiExcludeController()
@Controller()
export class OciController {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(DOCKYARD_SETTINGS) private readonly settings: DockyardSettings,
    private readonly access: RegistryAccess,
    private readonly manifests: ManifestService,
    private readonly blobs: BlobsService,
  ) {}

  @Public()
  @All(['v2', 'v2/*path'])
  async handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    res.setHeader(API_VERSION.name, API_VERSION.value);
    try {
      await this.dispatch(req, res);
    } catch (error) {
      this.fail(req, res, error);
    }
  }

  private async dispatch(req: Request, res: Response): Promise<void> {
    const rawPath = req.originalUrl.split('?')[0];
    const route = parseRegistryPath(rawPath);
    const caller = await this.access.authenticate(req.headers.authorization);
    switch (route.kind) {
      case 'base':
        return this.base(caller, res);
      case 'manifest':
        return this.manifest(req, res, caller, route);
      case 'blob':
        return this.blob(req, res, caller, route);
      case 'uploads':
        return this.uploads(req, res, caller, route);
      case 'upload':
        return this.upload(req, res, caller, route);
      case 'tags':
        return this.tags(req, res, caller, route);
      case 'referrers':
        return this.referrers(req, res, caller, route);
      default:
        throw new OciError('UNSUPPORTED', `${printable(rawPath)} is not an endpoint of the OCI Distribution API`, {}, 404);
    }
  }

  private base(caller: RegistryCaller, res: Response): void {
    if (caller.kind === 'anonymous') {
      throw new OciError('UNAUTHORIZED', 'authentication required: log in to the registry', {}, 401, { 'WWW-Authenticate': this.access.challenge() });
    }
    res.status(200).json({});
  }

  private async manifest(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'manifest' }>): Promise<void> {
    const name = route.name;
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        await this.authorize(caller, name, 'pull');
        const reference = parseReference(route.reference);
        const found = await this.manifests.find(name, reference);
        const content = found && (await this.blobs.open(found.digest));
        if (!found || !content) throw await this.manifestUnknown(name, route.reference);
        res.status(200);
        res.setHeader('Content-Type', found.mediaType);
        res.setHeader('Content-Length', String(found.size));
        res.setHeader('Docker-Content-Digest', found.digest);
        res.setHeader('ETag', `"${found.digest}"`);
        if (req.method === 'HEAD') {
          content.destroy();
          res.end();
          return;
        }
        await this.manifests.countPull(name, found.digest, reference.kind === 'tag' ? reference.tag : undefined);
        await this.send(content, res);
        return;
      }
      case 'PUT': {
        await this.authorize(caller, name, 'push');
        parseReference(route.reference);
        const declared = contentLength(req);
        if (declared !== undefined && declared > this.settings.maxManifestBytes) throw this.manifests.tooLarge(declared);
        const bytes = await readBody(req, this.settings.maxManifestBytes, (size) => this.manifests.tooLarge(size));
        const stored = await this.manifests.putManifest(name, route.reference, bytes, req.headers['content-type'], this.actor(caller));
        res.status(201);
        res.setHeader('Location', `/v2/${name}/manifests/${stored.digest}`);
        res.setHeader('Docker-Content-Digest', stored.digest);
        if (stored.subject) res.setHeader('OCI-Subject', stored.subject);
        res.setHeader('Content-Length', '0');
        res.end();
        return;
      }
      case 'DELETE': {
        await this.authorize(caller, name, 'delete');
        const reference = parseReference(route.reference);
        if (!(await this.manifests.delete(name, reference, this.actor(caller)))) throw await this.manifestUnknown(name, route.reference);
        accepted(res, 202);
        return;
      }
      default:
        throw notAllowed(req.method, 'GET, HEAD, PUT, DELETE');
    }
  }

  private async blob(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'blob' }>): Promise<void> {
    const name = route.name;
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        await this.authorize(caller, name, 'pull');
        const digest = requireDigest(route.digest);
        const size = await this.blobs.stat(name, digest);
        if (size === undefined) throw blobUnknown(digest);
        const range = req.headers.range === undefined ? undefined : byteRange(req.headers.range, size);
        if (range === 'unsatisfiable') {
          throw new OciError('BLOB_UNKNOWN', `the range ${printable(String(req.headers.range))} lies outside the blob's ${size} bytes`, { size }, 416, {
            'Content-Range': `bytes */${size}`,
          });
        }
        res.setHeader('Docker-Content-Digest', digest);
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Accept-Ranges', 'bytes');
        res.setHeader('ETag', `"${digest}"`);
        if (range) {
          res.status(206);
          res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
          res.setHeader('Content-Length', String(range.end - range.start + 1));
        } else {
          res.status(200);
          res.setHeader('Content-Length', String(size));
        }
        if (req.method === 'HEAD') {
          // A client that finds the blob skips its upload and pushes a manifest naming it:
          // the garbage collector's grace window starts again now. Only a pusher's look
          // counts, so that anonymous readers cannot keep garbage alive.
          if (await this.access.permits(caller, name, 'push')) await this.blobs.touch(digest);
          res.end();
          return;
        }
        if (!(await this.blobs.copyTo(digest, res, range))) throw blobUnknown(digest);
        return;
      }
      case 'DELETE': {
        await this.authorize(caller, name, 'delete');
        const digest = requireDigest(route.digest);
        if (!(await this.blobs.unlink(name, digest))) throw blobUnknown(digest);
        accepted(res, 202);
        return;
      }
      default:
        throw notAllowed(req.method, 'GET, HEAD, DELETE');
    }
  }

  private async uploads(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'uploads' }>): Promise<void> {
    if (req.method !== 'POST') throw notAllowed(req.method, 'POST');
    const name = route.name;
    await this.authorize(caller, name, 'push');
    const query = req.query as Record<string, unknown>;
    if (query.mount !== undefined) {
      const digest = requireDigest(query.mount, 'mount digest');
      const from = typeof query.from === 'string' ? query.from : undefined;
      // Anything short of a blob the caller may read in `from` starts an ordinary upload, as the spec asks.
      if (from !== undefined && from !== name) {
        requireRepositoryName(from);
        if (await this.access.permits(caller, from, 'pull')) {
          const size = await this.blobs.mount(name, digest, from);
          if (size !== undefined) {
            res.status(201);
            res.setHeader('Location', `/v2/${name}/blobs/${digest}`);
            res.setHeader('Docker-Content-Digest', digest);
            res.setHeader('Content-Length', '0');
            res.end();
            return;
          }
        }
      }
    } else if (query.digest !== undefined) {
      const digest = requireDigest(query.digest);
      await this.blobs.putWhole(name, digest, req, contentLength(req));
      created(res, name, digest);
      return;
    }
    const id = await this.blobs.startUpload(name);
    uploadAnswer(res, 202, name, id, 0);
  }

  private async upload(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'upload' }>): Promise<void> {
    const { name, id } = route;
    switch (req.method) {
      case 'GET': {
        await this.authorize(caller, name, 'push');
        const size = await this.blobs.uploadSize(name, id);
        uploadAnswer(res, 204, name, id, size);
        return;
      }
      case 'PATCH': {
        await this.authorize(caller, name, 'push');
        const size = await this.blobs.append(name, id, req, chunkOf(req));
        uploadAnswer(res, 202, name, id, size);
        return;
      }
      case 'PUT': {
        await this.authorize(caller, name, 'push');
        const digest = requireDigest((req.query as Record<string, unknown>).digest);
        if (hasBody(req)) await this.blobs.append(name, id, req, chunkOf(req));
        // complete() answers BLOB_UPLOAD_UNKNOWN itself for an upload of another repository.
        await this.blobs.complete(name, id, digest);
        created(res, name, digest);
        return;
      }
      case 'DELETE': {
        await this.authorize(caller, name, 'push');
        await this.blobs.cancel(name, id);
        accepted(res, 204);
        return;
      }
      default:
        throw notAllowed(req.method, 'GET, PATCH, PUT, DELETE');
    }
  }

  private async tags(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'tags' }>): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw notAllowed(req.method, 'GET');
    const name = route.name;
    await this.authorize(caller, name, 'pull');
    const query = req.query as Record<string, unknown>;
    let n: number | undefined;
    if (query.n !== undefined) {
      if (typeof query.n !== 'string' || !/^\d{1,9}$/.test(query.n)) {
        throw new OciError('PAGINATION_NUMBER_INVALID', 'n must be a whole number of tags', { n: typeof query.n === 'string' ? printable(query.n) : null });
      }
      n = Math.min(Number(query.n), MAX_TAGS_PAGE);
    }
    let last: string | undefined;
    if (query.last !== undefined) {
      if (typeof query.last !== 'string' || query.last.length > 128) throw new OciError('PAGINATION_NUMBER_INVALID', 'last must be a tag', {});
      last = query.last;
    }
    if (!(await this.manifests.repositoryExists(name))) throw nameUnknown(name);
    const tags = n === 0 ? [] : await this.manifests.tags(name, last, n === undefined ? undefined : n + 1);
    if (n !== undefined && tags.length > n) {
      tags.length = n;
      res.setHeader('Link', `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1])}>; rel="next"`);
    }
    res.status(200).json({ name, tags });
  }

  private async referrers(req: Request, res: Response, caller: RegistryCaller, route: Extract<RegistryRoute, { kind: 'referrers' }>): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw notAllowed(req.method, 'GET');
    const name = route.name;
    await this.authorize(caller, name, 'pull');
    const digest = requireDigest(route.digest);
    const artifactType = (req.query as Record<string, unknown>).artifactType;
    const filter = typeof artifactType === 'string' && artifactType ? artifactType : undefined;
    const manifests = await this.manifests.referrers(name, digest, filter);
    if (filter !== undefined) res.setHeader('OCI-Filters-Applied', 'artifactType');
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
    res.status(200);
    res.setHeader('Content-Type', MEDIA_TYPES.ociIndex);
    res.setHeader('Content-Length', String(Buffer.byteLength(body)));
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /**
   * A caller that may not act gets 401 with a challenge naming the scope, whether the
   * repository exists or not: names of private workspaces never leak.
   */
  private async authorize(caller: RegistryCaller, name: string, action: RegistryAction): Promise<void> {
    if (await this.access.permits(caller, name, action)) return;
    const actions = action === 'push' ? ['pull', 'push'] : [action];
    throw new OciError(
      'UNAUTHORIZED',
      caller.kind === 'anonymous' ? `authentication required to ${action} ${name}` : `the credentials do not allow ${action} on ${name}`,
      { repository: name, action },
      401,
      { 'WWW-Authenticate': this.access.challenge({ repository: name, actions }, caller.kind === 'anonymous' ? undefined : 'insufficient_scope') },
    );
  }

  private actor(caller: RegistryCaller): ImageActor {
    const principal = this.access.principalOf(caller);
    return { name: this.access.actorOf(caller), ...(principal.kind === 'user' ? { id: `user:${principal.userId}` } : {}) };
  }

  private async manifestUnknown(name: string, reference: string): Promise<OciError> {
    if (!(await this.manifests.repositoryExists(name))) return nameUnknown(name);
    return new OciError('MANIFEST_UNKNOWN', `manifest ${printable(reference)} is not in repository ${name}`, {
      [isTag(reference) ? 'tag' : 'digest']: printable(reference),
    });
  }

  private async send(content: NodeJS.ReadableStream & { destroy(): void }, res: Response): Promise<void> {
    try {
      await pipeline(content, res);
    } catch {
      // The client went away mid-download; the stream is closed, nothing to answer.
      content.destroy();
    }
  }

  private fail(req: Request, res: Response, error: unknown): void {
    let answer: OciError;
    if (error instanceof OciError) {
      answer = error;
    } else if (error instanceof RegistryUnauthorizedError) {
      answer = new OciError('UNAUTHORIZED', error.message, {}, 401, { 'WWW-Authenticate': this.access.challenge(undefined, 'invalid_token') });
    } else if (!req.complete && (req.destroyed || req.socket?.destroyed)) {
      // The client went away while sending: nothing was kept and nobody listens for an answer.
      return;
    } else {
      this.runtime.logger.error({ err: error, method: req.method, path: req.originalUrl.split('?')[0] }, 'registry request failed');
      answer = new OciError('UNKNOWN', 'the registry could not complete the request; try again', {});
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [header, value] of Object.entries(answer.headers)) res.setHeader(header, value);
    // A body not read yet is not worth receiving: the connection closes after the answer.
    if (!req.complete) res.setHeader('Connection', 'close');
    const body = JSON.stringify(answer.body());
    res.status(answer.status);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', String(Buffer.byteLength(body)));
    res.end(req.method === 'HEAD' ? undefined : body);
    if (!req.complete) req.resume();
  }
}

function blobUnknown(digest: string): OciError {
  return new OciError('BLOB_UNKNOWN', `blob ${digest} is not in this repository`, { digest });
}

function nameUnknown(name: string): OciError {
  return new OciError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
}

function notAllowed(method: string, allowed: string): OciError {
  return new OciError('UNSUPPORTED', `${method} is not an operation of this endpoint; use ${allowed}`, { method }, 405, { Allow: allowed });
}

function accepted(res: Response, status: number): void {
  res.status(status);
  res.setHeader('Content-Length', '0');
  res.end();
}

function created(res: Response, name: string, digest: string): void {
  res.status(201);
  res.setHeader('Location', `/v2/${name}/blobs/${digest}`);
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('Content-Length', '0');
  res.end();
}

function uploadAnswer(res: Response, status: number, name: string, id: string, size: number): void {
  res.status(status);
  res.setHeader('Location', `/v2/${name}/blobs/uploads/${id}`);
  res.setHeader('Docker-Upload-UUID', id);
  res.setHeader('Range', rangeHeader(size));
  res.setHeader('Content-Length', '0');
  res.end();
}

function contentLength(req: Request): number | undefined {
  const raw = req.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

function hasBody(req: Request): boolean {
  const length = contentLength(req);
  return (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
}

/** The chunk a PATCH (or final PUT) carries: `Content-Range: <start>-<end>` and Content-Length. */
function chunkOf(req: Request): { start?: number; length?: number } {
  const length = contentLength(req);
  const header = req.headers['content-range'];
  if (header === undefined) return { length };
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match || Number(match[2]) < Number(match[1])) {
    throw new OciError('BLOB_UPLOAD_INVALID', `Content-Range "${printable(header)}" must be <first byte>-<last byte>`, { contentRange: printable(header) });
  }
  const start = Number(match[1]);
  const span = Number(match[2]) - start + 1;
  if (length !== undefined && length !== span) {
    throw new OciError('BLOB_UPLOAD_INVALID', `Content-Range ${header} covers ${span} bytes but Content-Length is ${length}`, { contentRange: header, length });
  }
  return { start, length: length ?? span };
}

/** Reads a request body of at most `limit` bytes; past it, stops reading and throws `tooLarge`. */
function readBody(req: Request, limit: number, tooLarge: (size: number) => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(size));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
