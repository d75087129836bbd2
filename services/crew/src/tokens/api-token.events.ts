import type { ApiTokenScope } from './api-token.port';

/**
 * Events of a personal API token (stream `apitoken-<id>`). They never carry the secret
 * or its hash: every event is relayed to the bus; the hash lives in `crew_api_tokens`.
 */
export interface ApiTokenIssued {
  tokenId: string;
  userId: string;
  name: string;
  scopes: ApiTokenScope;
  expiresAt: string;
}

export interface ApiTokenRevoked {
  tokenId: string;
  userId: string;
}

export function apiTokenStreamId(id: string): string {
  return `apitoken-${id}`;
}
