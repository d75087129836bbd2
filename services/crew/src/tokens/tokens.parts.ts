import type { CrewParts } from '../crew-parts';
import { CreateTokens1764000100000 } from '../migrations/1764000100000-create-tokens';
import { API_TOKEN_VERIFIER } from './api-token.port';
import { ApiTokens } from './api-tokens.service';
import { TokensController } from './tokens.controller';
import { TokensGrpcController } from './tokens.grpc.controller';

/** Tokens: personal API tokens (their table and the registry's workspace copy are made by one migration). */
export const tokensParts: CrewParts = {
  controllers: [TokensController, TokensGrpcController],
  providers: [ApiTokens, { provide: API_TOKEN_VERIFIER, useExisting: ApiTokens }],
  migrations: [CreateTokens1764000100000],
};
