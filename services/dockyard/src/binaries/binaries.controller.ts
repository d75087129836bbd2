import { byteRange } from '../storage/byte-range';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Controller, Delete, Get, HttpCode, Inject, Param, Put, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '@co/auth';
import { InvalidInputError } from '@co/common';
import { ArtifactAccess } from '../charts/artifact-access';
import { BLOB_STORE, type BlobStore, type ByteRange } from '../storage/blob-store';
import { isDigest } from '../storage/digest';
import { binaryNotFound, BinariesService, type BinaryAddress } from './binaries.service';
import { requireBinaryFile, requireBinaryRepository, requireBinaryTag } from './binary-names';

/**
 * The digest a client names for its upload: `?digest=sha256:<hex>`, or a `Digest`
 * header as `sha256:<hex>` or in RFC 3230's form `sha-256=<base64>` (sha-512 too).
 */
export function expectedDigest(query: unknown, header: string | undefined): string | undefined {
  if (query !== undefined) {
    if (typeof query !== 'string' || !isDigest(query)) {
      throw new InvalidInputError('BINARY.DIGEST_INVALID', 'The digest must be sha256:<64 lowercase hex> or sha512:<128 lowercase hex>.');
    }
    return query;
  }
  if (header === undefined || header.trim() === '') return undefined;
  const value: string = header.trim();
  if (isDigest(value)) return value;
  for (const part of (value as string).split(',')) {
    const match = /^\s*(sha-256|sha-512)=([A-Za-z0-9+/]+={0,2})\s*$/i.exec(part);
    if (!match) continue;
    const algorithm = match[1].toLowerCase() === 'sha-256' ? 'sha256' : 'sha512';
    const digest = `${algorithm}:${Buffer.from(match[2], 'base64').toString('hex')}`;
    if (isDigest(digest)) return digest;
  }
  throw new InvalidInputError('BINARY.DIGEST_INVALID', 'The Digest header must be sha256:<hex>, or sha-256=<base64> / sha-512=<base64> (RFC 3230).');
}

/**
 * ContainerOps' binary V1: files under `/binary/v1/<workspace>/<repository>/binary/<tag>/<file>`.
 * Rights are the workspace's image rights (image:pull, image:push, image:delete).
 */
@ApiTags('binaries')
@Controller('binary/v1/:ws/:repo/binary/:tag')
export class BinariesController {
  constructor(
    private readonly binaries: BinariesService,
    private readonly access: ArtifactAccess,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  @Put(':file')
  @Public()
  @HttpCode(201)
  @ApiOperation({ summary: 'Store a file (the body, streamed); ?digest= or a Digest header is verified; an existing file is replaced' })
  async upload(
    @Param('ws') ws: string,
    @Param('repo') repo: string,
    @Param('tag') tag: string,
    @Param('file') file: string,
    @Query('digest') digest: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const address = this.address(ws, repo, tag, file);
    const expected = expectedDigest(digest, header(request, 'digest'));
    const { workspace, actor } = await this.access.require(request.headers.authorization, response, ws, 'push', 'image');
    if (request.body !== undefined) {
      throw new InvalidInputError('BINARY.INVALID', 'Send the file as the request body with Content-Type application/octet-stream.');
    }
    const body = detachedBody(request);
    const uploaded = await this.binaries.upload(workspace, address, body.stream, expected, actor).catch((error: unknown) => {
      body.drain();
      throw error;
    });
    response.setHeader('Docker-Content-Digest', uploaded.digest);
    return { workspace: ws, repository: repo, tag, file, digest: uploaded.digest, size: uploaded.size, overwritten: uploaded.overwritten };
  }

  @Get()
  @Public()
  @ApiOperation({ summary: 'The files stored under a tag' })
  async list(@Param('ws') ws: string, @Param('repo') repo: string, @Param('tag') tag: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    requireBinaryRepository(repo);
    requireBinaryTag(tag);
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'image');
    return { workspace: ws, repository: repo, tag, files: await this.binaries.list(ws, repo, tag) };
  }

  @Get(':file')
  @Public()
  @ApiOperation({ summary: 'Download a file (Range, If-None-Match); HEAD for its size and digest' })
  async download(
    @Param('ws') ws: string,
    @Param('repo') repo: string,
    @Param('tag') tag: string,
    @Param('file') file: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const address = this.address(ws, repo, tag, file);
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'image');
    const found = await this.binaries.find(address);
    const stored = found && (await this.blobs.stat(found.digest));
    if (!found || !stored) throw binaryNotFound(address);
    const etag = `"${found.digest}"`;
    response.setHeader('Docker-Content-Digest', found.digest);
    response.setHeader('ETag', etag);
    response.setHeader('Accept-Ranges', 'bytes');
    response.setHeader('Content-Type', 'application/octet-stream');
    response.setHeader('Content-Disposition', `attachment; filename="${file}"`);
    if (header(request, 'if-none-match')?.split(',').some((value) => value.trim() === etag || value.trim() === '*')) {
      response.status(304).end();
      return;
    }
    const range = byteRange(header(request, 'range'), stored.size);
    if (range === 'unsatisfiable') {
      response.status(416).setHeader('Content-Range', `bytes */${stored.size}`);
      response.json({ error: { code: 'BINARY.RANGE_INVALID', message: `The file has ${stored.size} bytes; ask for a range inside them.` } });
      return;
    }
    const length = range ? range.end - range.start + 1 : stored.size;
    response.status(range ? 206 : 200);
    response.setHeader('Content-Length', String(length));
    if (range) response.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${stored.size}`);
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const stream = await this.blobs.open(found.digest, range);
    if (!stream) throw binaryNotFound(address);
    if (!range) await this.binaries.countDownload(address);
    await pipeline(stream, response).catch(() => undefined);
  }

  @Delete(':file')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a file' })
  async delete(
    @Param('ws') ws: string,
    @Param('repo') repo: string,
    @Param('tag') tag: string,
    @Param('file') file: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    const address = this.address(ws, repo, tag, file);
    const { workspace, actor } = await this.access.require(request.headers.authorization, response, ws, 'delete', 'image');
    await this.binaries.delete(workspace, address, actor);
  }

  private address(ws: string, repo: string, tag: string, file: string): BinaryAddress {
    return { workspace: ws, repository: requireBinaryRepository(repo), tag: requireBinaryTag(tag), file: requireBinaryFile(file) };
  }
}

/**
 * The request body as a stream that storage may abandon (a refused upload) without
 * destroying the request: the rest of the body is then drained so that the client
 * reads the answer instead of a reset connection.
 */
function detachedBody(request: Request): { stream: PassThrough; drain: () => void } {
  const stream = new PassThrough();
  const cut = () => {
    if (!request.readableEnded) stream.destroy(new Error('the upload was interrupted'));
  };
  request.once('close', cut);
  request.once('error', cut);
  request.pipe(stream);
  return {
    stream,
    drain: () => {
      request.unpipe(stream);
      if (!request.destroyed) request.resume();
    },
  };
}

function header(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
