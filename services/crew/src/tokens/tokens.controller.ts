import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal, ForbiddenError, type Principal } from '@co/auth';
import { ApiTokens, type ApiTokenView, type IssuedApiToken } from './api-tokens.service';
import { CreateTokenBody } from './tokens.dto';

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('api/v1/tokens')
export class TokensController {
  constructor(private readonly tokens: ApiTokens) {}

  @Post()
  @Authenticated()
  @ApiOperation({ summary: 'Create a personal API token; the secret is in this answer only' })
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateTokenBody): Promise<IssuedApiToken> {
    return this.tokens.issue(signedInUser(principal), body);
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: "The caller's API tokens that are not revoked (never the secret)" })
  async list(@CurrentPrincipal() principal: Principal): Promise<{ items: ApiTokenView[] }> {
    return { items: await this.tokens.list(signedInUser(principal)) };
  }

  @Get(':id')
  @Authenticated()
  @ApiOperation({ summary: "One of the caller's API tokens" })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ApiTokenView> {
    return this.tokens.get(signedInUser(principal), id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated()
  @ApiOperation({ summary: "Revoke one of the caller's API tokens" })
  async revoke(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    await this.tokens.revoke(signedInUser(principal), id);
  }
}

/**
 * Tokens are managed with a login session only: a token that could create tokens
 * could outlive its own revocation or its expiry through a copy of itself.
 */
export function signedInUser(principal: Principal): string {
  if (principal.kind !== 'user') throw new ForbiddenError('manage API tokens', 'sign in first');
  if (principal.tokenId) throw new ForbiddenError('manage API tokens', 'an API token cannot manage tokens; log in with your password');
  return principal.userId;
}
