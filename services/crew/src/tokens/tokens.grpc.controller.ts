import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authenticated } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked, givenList } from '../grpc-calls';
import type { ApiTokenScope } from './api-token.port';
import { ApiTokens, type ApiTokenView } from './api-tokens.service';
import { signedInUser } from './tokens.controller';
import { CreateTokenBody } from './tokens.dto';

/**
 * containerops.crew.v1.TokenService: the caller's personal API tokens
 * (/api/v1/tokens) over gRPC; managed with a login session only, as over REST.
 */
@Controller()
@crew.TokenServiceControllerMethods()
export class TokensGrpcController implements crew.TokenServiceController {
  constructor(private readonly tokens: ApiTokens) {}

  @Authenticated()
  async createToken(request: crew.CreateTokenRequest, metadata?: Metadata): Promise<crew.IssuedToken> {
    const user = signedInUser(callerOf(metadata));
    const actions = givenList(request.scopes?.actions);
    const projects = givenList(request.scopes?.projects);
    const body = checked(CreateTokenBody, {
      name: request.name,
      ...(actions || projects ? { scopes: { actions, projects } } : {}),
      expiresInDays: request.expiresInDays || undefined,
    });
    const issued = await this.tokens.issue(user, body);
    return { id: issued.id, name: issued.name, scopes: toScopes(issued.scopes), createdAt: issued.createdAt, expiresAt: issued.expiresAt, token: issued.token };
  }

  @Authenticated()
  async listTokens(_request: crew.ListTokensRequest, metadata?: Metadata): Promise<crew.ListTokensResponse> {
    return { items: (await this.tokens.list(signedInUser(callerOf(metadata)))).map(toToken) };
  }

  @Authenticated()
  async getToken(request: crew.GetTokenRequest, metadata?: Metadata): Promise<crew.Token> {
    return toToken(await this.tokens.get(signedInUser(callerOf(metadata)), request.id));
  }

  @Authenticated()
  async revokeToken(request: crew.RevokeTokenRequest, metadata?: Metadata): Promise<crew.RevokeTokenResponse> {
    await this.tokens.revoke(signedInUser(callerOf(metadata)), request.id);
    return {};
  }
}

function toScopes(scopes: ApiTokenScope): crew.TokenScopes {
  return { actions: [...(scopes.actions ?? [])], projects: [...(scopes.projects ?? [])] };
}

function toToken(token: ApiTokenView): crew.Token {
  return {
    id: token.id,
    name: token.name,
    scopes: toScopes(token.scopes),
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    lastUsedAt: token.lastUsedAt ?? '',
  };
}
