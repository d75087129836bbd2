import { Controller, Delete, Get, HttpCode, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessGate, Authenticated, Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import { InvalidInputError, NotFoundError } from '@co/common';
import { WorkspaceResolver } from '../workspaces/workspace-resolver';
import { workspaceNotFound, WorkspacesService } from '../workspaces/workspaces.service';
import { ManifestService, type ImageActor } from './manifests.service';
import { isDigest } from '../storage/digest';
import { isRepositoryName, isTag } from './names';
import { repositoryNotFound, RepositoriesService, type RepositorySummary, type TagSummary } from './repositories.service';

/**
 * Image management for people: a workspace's repositories with their totals, a
 * repository's tags, deleting a tag or a version. `:repo` is the name inside the
 * workspace; a name with slashes is sent with each `/` encoded as `%2F`
 * (`/api/v1/workspaces/team/repositories/tools%2Fbuild/tags`).
 */
@ApiTags('repositories')
@ApiBearerAuth()
@Controller('api/v1/workspaces/:ws/repositories')
export class RepositoriesController {
  constructor(
    private readonly repositories: RepositoriesService,
    private readonly manifests: ManifestService,
    private readonly workspaces: WorkspacesService,
    private readonly gate: AccessGate,
  ) {}

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Repositories of a workspace: versions, tags, pulls, bytes, last update' })
  async list(@Param('ws') ws: string, @CurrentPrincipal() principal: Principal): Promise<{ items: RepositorySummary[] }> {
    await this.requirePull(ws, principal);
    return { items: await this.repositories.list(ws) };
  }

  @Get(':repo/tags')
  @Authenticated()
  @ApiOperation({ summary: 'Tags of a repository, each with digest, size, created time and pull count' })
  async tags(@Param('ws') ws: string, @Param('repo') repo: string, @CurrentPrincipal() principal: Principal): Promise<{ items: TagSummary[] }> {
    await this.requirePull(ws, principal);
    return { items: await this.repositories.tags(ws, this.repositoryName(ws, repo)) };
  }

  @Delete(':repo/tags/:tag')
  @HttpCode(204)
  @Authorize('image:delete', { resolver: WorkspaceResolver, param: 'ws' })
  @ApiOperation({ summary: 'Remove a tag (the version it names stays)' })
  async deleteTag(@Param('ws') ws: string, @Param('repo') repo: string, @Param('tag') tag: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    const name = `${ws}/${this.repositoryName(ws, repo)}`;
    if (!isTag(tag)) throw new InvalidInputError('TAG.INVALID', `"${tag.slice(0, 200)}" is not a valid tag: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".`);
    await this.repositories.require(name);
    if (!(await this.manifests.delete(name, { kind: 'tag', tag }, actorOf(principal)))) throw tagNotFound(name, tag);
  }

  @Delete(':repo/manifests/:digest')
  @HttpCode(204)
  @Authorize('image:delete', { resolver: WorkspaceResolver, param: 'ws' })
  @ApiOperation({ summary: 'Delete a version (manifest) with all its tags' })
  async deleteManifest(@Param('ws') ws: string, @Param('repo') repo: string, @Param('digest') digest: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    const name = `${ws}/${this.repositoryName(ws, repo)}`;
    if (!isDigest(digest)) throw new InvalidInputError('DIGEST.INVALID', `"${String(digest as unknown).slice(0, 200)}" is not a digest: use sha256:<64 hex> or sha512:<128 hex>.`);
    await this.repositories.require(name);
    if (!(await this.manifests.delete(name, { kind: 'digest', digest }, actorOf(principal)))) {
      throw new NotFoundError('MANIFEST.NOT_FOUND', `Repository ${name} holds no manifest ${digest}; list its tags to see the digests it holds.`);
    }
  }

  /** Anyone signed in reads a public workspace; a private one needs image:pull there (404 when hidden). */
  private async requirePull(ws: string, principal: Principal): Promise<void> {
    const workspace = await this.workspaces.require(ws);
    if (workspace.visibility === 'public') return;
    await this.gate.require(principal, 'image:pull', { org: workspace.org, project: workspace.project, id: ws }, () => workspaceNotFound(ws));
  }

  private repositoryName(ws: string, repo: string): string {
    if (!isRepositoryName(`${ws}/${repo}`)) throw repositoryNotFound(`${ws}/${repo.slice(0, 200)}`);
    return repo;
  }
}

function actorOf(principal: Principal): ImageActor {
  return principal.kind === 'user' ? { name: principal.username, id: `user:${principal.userId}` } : { name: 'anonymous' };
}

function tagNotFound(name: string, tag: string): NotFoundError {
  return new NotFoundError('TAG.NOT_FOUND', `Repository ${name} has no tag ${tag}; list its tags to see them.`);
}
