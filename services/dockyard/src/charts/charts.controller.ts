import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import busboy from 'busboy';
import type { Request, Response } from 'express';
import { Public } from '@co/auth';
import { InvalidInputError, NotFoundError } from '@co/common';
import { BLOB_STORE, type BlobInfo, type BlobStore } from '../storage/blob-store';
import { ArtifactAccess } from './artifact-access';
import { isChartName, isChartVersion, packageCandidates } from './chart-names';
import { ChartsService, MAX_PROVENANCE_BYTES, type ListedChart, type ReceivedChart } from './charts.service';
import type { Workspace } from '../workspaces/workspaces.service';

/** A chart version as the ChartMuseum API answers it: the index entry, plus where it comes from. */
function apiVersion(listed: ListedChart): Record<string, unknown> {
  return {
    ...listed.version,
    source: listed.source,
    size: listed.size,
    ...(listed.downloads !== undefined ? { downloads: listed.downloads } : {}),
    ...(listed.repository ? { repository: listed.repository, tag: listed.tag } : {}),
    provenance: listed.provenance !== undefined,
  };
}

function requireName(name: string): string {
  if (!isChartName(name)) {
    throw new InvalidInputError('CHART.NAME_INVALID', `${JSON.stringify(String(name).slice(0, 120))} is not a chart name: lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit.`);
  }
  return name;
}

function requireVersion(version: string, allowLatest = false): string {
  if ((allowLatest && version === 'latest') || isChartVersion(version)) return version;
  throw new InvalidInputError('CHART.VERSION_INVALID', `${JSON.stringify(String(version).slice(0, 140))} is not a chart version: a semantic version like 1.2.3${allowLatest ? ', or latest' : ''}.`);
}

/** `?force`, `?force=true` or `?force=1` overwrite; `?force=false` does not (ChartMuseum's rule). */
function forced(value: unknown): boolean {
  if (value === undefined) return false;
  const text = Array.isArray(value) ? String(value[0]) : String(value);
  return !['false', '0', 'no'].includes(text.toLowerCase());
}

/**
 * The classic Helm repository of a workspace: `helm repo add <alias> <base>/charts/<ws>`
 * reads index.yaml and downloads `<name>-<version>.tgz` (and `.tgz.prov`) relative to it.
 */
@ApiTags('charts')
@Controller('charts')
export class ChartRepositoryController {
  constructor(
    private readonly charts: ChartsService,
    private readonly access: ArtifactAccess,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  @Get(':ws/:file')
  @Public()
  @ApiOperation({ summary: 'index.yaml of the workspace’s chart repository, or a chart package (<name>-<version>.tgz, .tgz.prov)' })
  async file(@Param('ws') ws: string, @Param('file') file: string, @Req() request: Request, @Res() response: Response): Promise<void> {
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'chart');
    if (file === 'index.yaml') {
      const text = await this.charts.indexYaml(ws);
      response.status(200).type('application/x-yaml').setHeader('Cache-Control', 'no-cache');
      response.send(text);
      return;
    }
    if (!packageCandidates(file, file.endsWith('.prov') ? '.tgz.prov' : '.tgz').length) {
      throw new InvalidInputError(
        'CHART.FILE_INVALID',
        `${JSON.stringify(file.slice(0, 200))} is not a file of a chart repository: index.yaml, <name>-<version>.tgz or <name>-<version>.tgz.prov.`,
      );
    }
    const found = await this.charts.packageFile(ws, file);
    if (!found) {
      throw new NotFoundError('CHART.NOT_FOUND', `No ${JSON.stringify(file.slice(0, 200))} in the chart repository of ${ws}: see index.yaml for the packages it holds.`);
    }
    const stored = await this.blobs.stat(found.blob);
    const stream = stored ? await this.blobs.open(found.blob) : undefined;
    if (!stored || !stream) throw new NotFoundError('CHART.NOT_FOUND', `The package ${file} is listed but its content is gone; publish it again.`);
    response.status(200);
    response.setHeader('Content-Type', found.provenance ? 'application/pgp-signature' : 'application/gzip');
    response.setHeader('Content-Length', String(stored.size));
    response.setHeader('ETag', `"${found.blob}"`);
    if (request.method === 'HEAD') {
      stream.destroy();
      response.end();
      return;
    }
    if (!found.provenance && found.listed.source === 'upload') await this.charts.countDownload(ws, found.listed.version.name, found.listed.version.version);
    await pipeline(stream, response).catch(() => undefined);
  }
}

/**
 * ChartMuseum's API for one workspace (curl, `helm cm-push`): upload a package (raw
 * body or multipart `chart`/`prov`), list, show and delete versions. Errors keep the
 * platform's shape `{"error":{"code","message"}}`. `helm cm-push` given the repository
 * URL `<base>/charts/<ws>` posts to `<base>/api/charts/<ws>/charts`: the second path.
 */
@ApiTags('charts')
@Controller(['api/:ws/charts', 'api/charts/:ws/charts'])
export class ChartApiController {
  constructor(
    private readonly charts: ChartsService,
    private readonly access: ArtifactAccess,
  ) {}

  @Post()
  @Public()
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a chart package: the .tgz as the body, or multipart/form-data with chart (and prov); ?force overwrites' })
  async upload(@Param('ws') ws: string, @Query('force') force: unknown, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    const { workspace, actor } = await this.access.require(request.headers.authorization, response, ws, 'push', 'chart');
    if (request.body !== undefined) {
      throw new InvalidInputError('CHART.INVALID', 'Send the chart package as the request body (application/octet-stream) or as multipart/form-data with a chart field.');
    }
    const type = request.headers['content-type'] ?? '';
    const room = await this.charts.room(workspace);
    let received: ReceivedChart;
    let provenance: BlobInfo | undefined;
    if (/^multipart\/form-data/i.test(type)) {
      const parts = await this.readMultipart(request, workspace, room);
      received = parts.chart;
      if (parts.provenance) provenance = await this.charts.receiveProvenance(parts.provenance);
    } else {
      received = await this.charts.receive(request, workspace, room);
    }
    const published = await this.charts.publish(workspace, received, provenance, forced(force), actor);
    return { saved: true, name: published.name, version: published.version, digest: published.digest, overwritten: published.overwritten };
  }

  @Get()
  @Public()
  @ApiOperation({ summary: 'Every chart of the workspace: name → versions, newest first' })
  async list(@Param('ws') ws: string, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<Record<string, unknown[]>> {
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'chart');
    const answer: Record<string, unknown[]> = {};
    for (const [name, versions] of await this.charts.list(ws)) answer[name] = versions.map(apiVersion);
    return answer;
  }

  @Get(':name')
  @Public()
  @ApiOperation({ summary: 'The versions of one chart, newest first' })
  async versions(@Param('ws') ws: string, @Param('name') name: string, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    requireName(name);
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'chart');
    return (await this.charts.versions(ws, name)).map(apiVersion);
  }

  @Get(':name/:version')
  @Public()
  @ApiOperation({ summary: 'One version of a chart (latest: the newest)' })
  async version(
    @Param('ws') ws: string,
    @Param('name') name: string,
    @Param('version') version: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    requireName(name);
    requireVersion(version, true);
    await this.access.require(request.headers.authorization, response, ws, 'pull', 'chart');
    return apiVersion(await this.charts.version(ws, name, version));
  }

  @Delete(':name/:version')
  @Public()
  @ApiOperation({ summary: 'Delete an uploaded chart version' })
  async delete(
    @Param('ws') ws: string,
    @Param('name') name: string,
    @Param('version') version: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    requireName(name);
    requireVersion(version);
    const { workspace, actor } = await this.access.require(request.headers.authorization, response, ws, 'delete', 'chart');
    await this.charts.delete(workspace, name, version, actor);
    return { deleted: true };
  }

  /** Reads the `chart` file (streamed into storage while checked) and the `prov` file of a multipart upload. */
  private async readMultipart(request: Request, workspace: Workspace, room: number | undefined): Promise<{ chart: ReceivedChart; provenance?: Buffer }> {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 4, fields: 20, parts: 30, fieldSize: 64 * 1024 } });
    } catch (error) {
      throw new InvalidInputError('CHART.INVALID', `The multipart upload cannot be read: ${(error as Error).message}.`);
    }
    let chart: Promise<ReceivedChart> | undefined;
    let provenance: Promise<Buffer> | undefined;
    parser.on('file', (field: string, stream: Readable) => {
      if (field === 'chart' && !chart) {
        chart = this.charts.receive(stream, workspace, room);
        chart.catch(() => undefined);
      } else if (field === 'prov' && !provenance) {
        provenance = readLimited(stream, MAX_PROVENANCE_BYTES);
        provenance.catch(() => undefined);
      } else {
        stream.resume();
      }
    });
    await new Promise<void>((resolve, reject) => {
      parser.once('close', resolve);
      parser.once('error', (error: Error) => {
        request.unpipe(parser);
        request.resume();
        reject(new InvalidInputError('CHART.INVALID', `The multipart upload cannot be read: ${error.message}.`));
      });
      request.pipe(parser);
    }).catch(async (error) => {
      // A part already being stored settles before the answer.
      await Promise.allSettled([chart, provenance]);
      throw error;
    });
    if (!chart) {
      await provenance?.catch(() => undefined);
      throw new InvalidInputError('CHART.INVALID', 'The multipart upload has no chart field: send the package as -F chart=@<name>-<version>.tgz.');
    }
    const [received, prov] = await Promise.all([chart, provenance]);
    return { chart: received, provenance: prov };
  }
}

/** Reads a small part whole; more than `limit` bytes is refused after the part is drained. */
async function readLimited(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw new InvalidInputError('CHART.PROVENANCE_INVALID', `The provenance file is larger than ${limit} bytes.`);
  return Buffer.concat(chunks);
}
