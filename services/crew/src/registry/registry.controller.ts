import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public, REALM } from '@co/auth';
import { InvalidCredentialsError, ThrottledError } from '../auth/auth-errors';
import { RegistryCredentials } from './registry-credentials';
import { RegistryTokens, type RegistryTokenAnswer } from './registry-tokens.service';

@ApiTags('registry')
@Controller('api/v1/registry')
export class RegistryController {
  constructor(
    private readonly credentials: RegistryCredentials,
    private readonly tokens: RegistryTokens,
  ) {}

  /** Public: anonymous callers get what public workspaces allow; credentials are checked here. */
  @Get('token')
  @Public()
  @ApiOperation({ summary: 'A registry bearer token (Docker token authentication) for service=<registry> and scope=repository:<workspace>/<repo>:<actions>' })
  async token(
    @Query('service') service: string | undefined,
    @Query('scope') scope: string | string[] | undefined,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RegistryTokenAnswer> {
    res.setHeader('Cache-Control', 'no-store');
    try {
      const principal = await this.credentials.principalOf(authorization, req.socket.remoteAddress ?? 'unknown');
      const scopes = scope === undefined ? [] : Array.isArray(scope) ? scope : [scope];
      return await this.tokens.issue(principal, typeof service === 'string' ? service : undefined, scopes.map(String));
    } catch (error) {
      // Registry clients answer a Basic challenge by sending the user's credentials.
      if (error instanceof InvalidCredentialsError) res.setHeader('WWW-Authenticate', `Basic realm="${REALM}"`);
      if (error instanceof ThrottledError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw error;
    }
  }
}
