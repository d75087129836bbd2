import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DockyardImages } from './dockyard-images';
import { parseImageReference } from './image-reference';

const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('DockyardImages', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; authorization?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/v1/workspaces/team') return void res.end(JSON.stringify({ name: 'team', org: 'acme', project: 'web' }));
      if (req.url === '/api/v1/workspaces/team/repositories/tools%2Fbuild/tags') return void res.end(JSON.stringify({ items: [{ tag: '1.0', digest: DIGEST }] }));
      if (req.url === '/v2/official/echo/manifests/1.0' && req.method === 'HEAD') {
        res.setHeader('docker-content-digest', DIGEST);
        return void res.end();
      }
      if (req.url === '/v2/private/echo/manifests/1.0') {
        res.statusCode = 401;
        return void res.end();
      }
      if (req.url === '/api/v1/workspaces/broken' || req.url === '/v2/broken/echo/manifests/1.0') {
        res.statusCode = 500;
        return void res.end('{}');
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'WORKSPACE.NOT_FOUND' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const images = (url = base) => new DockyardImages({ dockyardUrl: url, registryHosts: ['h:5000'], dockyardTimeoutMs: 2000, officialComponents: false });

  it('finds a tag’s digest and the workspace’s place, asking with the caller’s credentials', async () => {
    const reference = 'h:5000/team/tools/build:1.0';
    await expect(images().find(parseImageReference(reference), reference, 'Bearer abc')).resolves.toEqual({ org: 'acme', project: 'web', digest: DIGEST });
    expect(seen.every((request) => request.authorization === 'Bearer abc')).toBe(true);
    const byDigest = `h:5000/team/tools/build@${DIGEST}`;
    await expect(images().find(parseImageReference(byDigest), byDigest, 'Bearer abc')).resolves.toMatchObject({ digest: DIGEST });
  });

  it('answers 422 for what dockyard does not hold', async () => {
    for (const reference of ['h:5000/team/tools/build:2.0', 'h:5000/team/other:1', 'h:5000/nobody/app:1', `h:5000/team/tools/build@sha256:${'d'.repeat(64)}`]) {
      await expect(images().find(parseImageReference(reference), reference, undefined)).rejects.toMatchObject({ code: 'COMPONENT.IMAGE_NOT_FOUND', httpStatus: 422 });
    }
  });

  it('answers 503 when dockyard fails or cannot be reached', async () => {
    await expect(images().find(parseImageReference('h:5000/broken/app:1'), 'h:5000/broken/app:1', undefined)).rejects.toMatchObject({ code: 'COMPONENT.DOCKYARD_UNAVAILABLE', httpStatus: 503 });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(images(`http://127.0.0.1:${port}`).find(parseImageReference('h:5000/team/app:1'), 'h:5000/team/app:1', undefined)).rejects.toMatchObject({
      code: 'COMPONENT.DOCKYARD_UNAVAILABLE',
      httpStatus: 503,
    });
  });

  it('finds the digest of a public tag anonymously, and nothing where it may not look', async () => {
    const at = (workspace: string) => ({ ...parseImageReference(`h:5000/${workspace}/echo:1.0`), tag: '1.0' });
    const before = seen.length;
    await expect(images().publicDigest(at('official'))).resolves.toBe(DIGEST);
    expect(seen[before]).toEqual({ url: '/v2/official/echo/manifests/1.0', authorization: undefined });
    await expect(images().publicDigest(at('private'))).resolves.toBeUndefined();
    await expect(images().publicDigest(at('missing'))).resolves.toBeUndefined();
    await expect(images().publicDigest(at('broken'))).rejects.toMatchObject({ code: 'COMPONENT.DOCKYARD_UNAVAILABLE' });
  });
});
