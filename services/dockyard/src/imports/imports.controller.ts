import { Controller, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import { InvalidInputError } from '@co/common';
import type { ImageActor } from '../registry';
import { WorkspaceResolver } from '../workspaces/workspace-resolver';
import { ImportMediaTypeError, ImportTooLargeError } from './import-errors';
import { type ImportResult, ImportsService } from './imports.service';

/** What is read and dropped of a refused body so that its answer reaches the client. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/** Body types the service's parsers consume: such a body never reaches the handler as a stream. */
const PARSED_TYPES = /^(?:application\/(?:json|[\w.+-]*\+json|x-www-form-urlencoded|yaml|x-yaml)|text\/)/i;

/**
 * `POST /api/v1/workspaces/{ws}/images/import`: the body is the archive itself,
 * streamed (`docker save` / `podman save` output, or an OCI image layout, as `.tar`
 * or `.tar.gz`).
 */
@ApiTags('images')
@ApiBearerAuth()
@Controller('api/v1/workspaces')
export class ImportsController {
  constructor(private readonly imports: ImportsService) {}

  @Post(':ws/images/import')
  @HttpCode(201)
  @Authorize('image:push', { resolver: WorkspaceResolver, param: 'ws' })
  @ApiOperation({ summary: 'Import the images of a docker save or OCI archive (.tar or .tar.gz) into the workspace' })
  @ApiConsumes('application/x-tar', 'application/gzip', 'application/octet-stream')
  @ApiQuery({ name: 'repository', required: false, description: 'Repository (inside the workspace) for every image of the archive' })
  @ApiQuery({ name: 'tag', required: false, description: 'Tag for the single image of the archive' })
  async import(
    @Param('ws') workspace: string,
    @Query('repository') repository: unknown,
    @Query('tag') tag: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ImportResult> {
    const limit = this.imports.limits().maxBytes;
    const length = Number(req.headers['content-length']);
    try {
      const override = { repository: single(repository, 'repository'), tag: single(tag, 'tag') };
      this.imports.checkOverride(workspace, override);
      const contentType = req.headers['content-type'];
      if (contentType && PARSED_TYPES.test(contentType)) throw new ImportMediaTypeError(contentType.split(';')[0]);
      if (Number.isFinite(length) && length > limit) throw new ImportTooLargeError(limit, 'archive');
      return await this.imports.import(workspace, req, override, actorOf(principal));
    } catch (error) {
      if (!(await drain(req, DRAIN_LIMIT))) res.setHeader('Connection', 'close');
      throw error;
    }
  }
}

/**
 * Reads and drops what is left of a refused body (up to `limit` bytes), so that the
 * client, still sending, gets the answer; false when more remained (the connection
 * then closes after the answer).
 */
function drain(req: Request, limit: number): Promise<boolean> {
  if (req.readableEnded || req.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (drained: boolean) => {
      req.off('data', onData);
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) {
        req.pause();
        finish(false);
      }
    };
    req.on('data', onData);
    req.once('end', () => finish(true));
    req.once('error', () => finish(false));
    req.resume();
  });
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidInputError('IMPORT.NAME_INVALID', `Give "${name}" once, as a plain value.`);
  return value;
}

function actorOf(principal: Principal): ImageActor {
  return principal.kind === 'user' ? { name: principal.username, id: `user:${principal.userId}` } : { name: 'anonymous' };
}
