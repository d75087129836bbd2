import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * The smallest registry that trusts crew's registry tokens, standing in for dockyard:
 * `/v2/` and `/v2/<name>/tags/list`, answering a `Bearer` challenge that sends clients
 * (podman, skopeo) to crew's token endpoint, and checking each token against crew's
 * JWKS, its audience and its `access` claim, as a Distribution registry does.
 */
export async function startTokenRegistry(crewUrl: string, service: string): Promise<{ host: string; close(): Promise<void> }> {
  const jwks = createRemoteJWKSet(new URL(`${crewUrl}/.well-known/jwks.json`));
  const realm = `${crewUrl}/api/v1/registry/token`;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://registry').pathname;
      const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
      const scope = tags ? `repository:${tags[1]}:pull` : undefined;
      const deny = () => {
        res.writeHead(401, {
          'content-type': 'application/json',
          'docker-distribution-api-version': 'registry/2.0',
          'www-authenticate': `Bearer realm="${realm}",service="${service}"${scope ? `,scope="${scope}"` : ''}`,
        });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      };
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!bearer) return deny();
      let access: { type: string; name: string; actions: string[] }[];
      try {
        const { payload } = await jwtVerify(bearer[1], jwks, { audience: service, issuer: 'containerops-crew' });
        access = (payload.access as typeof access) ?? [];
      } catch {
        return deny();
      }
      if (tags && !access.some((entry) => entry.type === 'repository' && entry.name === tags[1] && entry.actions.includes('pull'))) return deny();
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end(JSON.stringify(tags ? { name: tags[1], tags: ['1.0'] } : {}));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
