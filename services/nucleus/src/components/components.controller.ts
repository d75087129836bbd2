import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Authenticated, Authorize, CurrentPrincipal, Public, type Principal } from '@co/auth';
import { DomainError } from '@co/common';
import type { ManifestFormat } from './component-manifest';
import { COMPONENT_SCHEMA } from './component.schema';
import { DeprecateBody, ListComponentsQuery, ResolveQuery, YankBody } from './components.dto';
import { ComponentsService } from './components.service';

/** The format of a published manifest, from the request's Content-Type. */
export function manifestFormat(req: Request): ManifestFormat {
  if (req.is('application/json')) return typeof req.body === 'string' ? 'json' : 'object';
  if (req.is(['application/yaml', 'application/x-yaml', 'text/yaml'])) return 'yaml';
  throw new DomainError('REQUEST.UNSUPPORTED_MEDIA_TYPE', 'Send the manifest with Content-Type: application/yaml or application/json.', 415, GrpcStatus.INVALID_ARGUMENT);
}

/**
 * The component registry for people and scripts. Publishing checks the caller's rights
 * itself (the project is known only once dockyard has told where the image is kept);
 * reads show public components to everybody signed in and `org` ones inside their
 * organization only (404 elsewhere).
 */
@ApiTags('components')
@ApiBearerAuth()
@Controller('api/v1')
export class ComponentsController {
  constructor(private readonly components: ComponentsService) {}

  @Get('schemas/component')
  @Public()
  @ApiOperation({ summary: 'The component manifest (component.yaml) as JSON Schema (draft 2020-12)' })
  schema() {
    return COMPONENT_SCHEMA;
  }

  @Post('components')
  @Authorize('component:publish')
  @ApiOperation({ summary: 'Publish a component version from its manifest (component:publish in the project of the image’s workspace)' })
  @ApiConsumes('application/yaml', 'application/json')
  @ApiBody({ description: 'A component manifest (see GET /api/v1/schemas/component)' })
  publish(@Req() req: Request, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    return this.components.publish(principal, req.headers.authorization, body, manifestFormat(req));
  }

  @Get('components')
  @Authenticated()
  @ApiOperation({ summary: 'Components you may see: search by namespace, name, label and words; paginated' })
  list(@Query() query: ListComponentsQuery, @CurrentPrincipal() principal: Principal) {
    return this.components.list(principal, query);
  }

  @Get('components/:namespace/:name')
  @Authenticated()
  @ApiOperation({ summary: 'A component with its versions, newest first' })
  get(@Param('namespace') namespace: string, @Param('name') name: string, @CurrentPrincipal() principal: Principal) {
    return this.components.get(principal, namespace, name);
  }

  @Get('components/:namespace/:name/resolve')
  @Authenticated()
  @ApiOperation({ summary: 'The highest version matching ?range= (^1.2, ~1.2.3, 1.x, 1.2.3) that is not yanked, pinned by digest' })
  resolve(@Param('namespace') namespace: string, @Param('name') name: string, @Query() query: ResolveQuery, @CurrentPrincipal() principal: Principal) {
    return this.components.resolve(principal, namespace, name, query.range ?? '');
  }

  @Get('components/:namespace/:name/:version')
  @Authenticated()
  @ApiOperation({ summary: 'One version with its manifest and pinned image' })
  version(@Param('namespace') namespace: string, @Param('name') name: string, @Param('version') version: string, @CurrentPrincipal() principal: Principal) {
    return this.components.getVersion(principal, namespace, name, version);
  }

  @Post('components/:namespace/:name/:version/deprecate')
  @HttpCode(200)
  @Authorize('component:deprecate')
  @ApiOperation({ summary: 'Deprecate a version with a message (it still resolves; users are warned)' })
  deprecate(
    @Param('namespace') namespace: string,
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: DeprecateBody,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.components.deprecate(principal, namespace, name, version, body.message);
  }

  @Post('components/:namespace/:name/:version/yank')
  @HttpCode(200)
  @Authorize('component:deprecate')
  @ApiOperation({ summary: 'Yank a version: ranges no longer resolve to it; revisions that pinned it still run' })
  yank(@Param('namespace') namespace: string, @Param('name') name: string, @Param('version') version: string, @Body() body: YankBody, @CurrentPrincipal() principal: Principal) {
    return this.components.yank(principal, namespace, name, version, body.reason);
  }
}
