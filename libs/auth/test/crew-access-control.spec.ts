import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { ConfigError } from '@co/common';
import { protoFile } from '@co/proto';
import { context, extractTraceContext } from '@co/telemetry';
import { freePort } from '../../../test/support/infra';
import { AccessUnavailableError, UnauthenticatedError } from '../src/errors';
import { CrewAccessControl } from '../src/remote/crew-access-control';
import { loadCrewAccessSettings, type CrewAccessSettings } from '../src/remote/crew-access-settings';

/**
 * The remote client against a stand-in AccessService (real gRPC, real HTTP JWKS): what
 * it asks, what it keeps, and what it answers when crew is not there.
 */

const USER = { kind: 'user', userId: 'u-1', username: 'alice' } as const;
const RESOURCE = { org: 'acme', project: 'web', id: 'w-1', owner: 'u-1' };

interface Recorded {
  method: string;
  request: any;
  traceparent?: string;
}

describe('CrewAccessControl', () => {
  let server: grpc.Server;
  let grpcAddress: string;
  let jwks: Server;
  let crewUrl: string;
  let signingKey: KeyLike;
  const calls: Recorded[] = [];
  let allowed = true;
  const clients: CrewAccessControl[] = [];

  beforeAll(async () => {
    const definition = protoLoader.loadSync(protoFile('containerops/crew/v1/crew.proto'), { keepCase: false, defaults: true });
    const v1 = (grpc.loadPackageDefinition(definition) as any).containerops.crew.v1;
    server = new grpc.Server();
    const record = (method: string, call: grpc.ServerUnaryCall<any, any>) =>
      calls.push({ method, request: call.request, traceparent: call.metadata.get('traceparent')[0] as string | undefined });
    server.addService(v1.AccessService.service, {
      introspectToken: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
        record('introspectToken', call);
        const active = call.request.token === 'cop_good' && (call.request.username === '' || call.request.username === 'alice');
        done(null, active ? { active, userId: 'u-1', username: 'alice', tokenId: 't-1' } : { active: false, reason: 'unknown token' });
      },
      authorize: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
        record('authorize', call);
        done(null, { allowed, visible: true, reason: allowed ? 'member may' : 'member may not' });
      },
      listScope: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
        record('listScope', call);
        done(null, { everywhere: false, orgs: ['acme'], projects: ['globex/web'], ownEverywhere: false, ownOrgs: [], ownProjects: ['acme/api'] });
      },
      getQuota: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
        record('getQuota', call);
        done(null, { org: { maxWorkflows: 10 }, project: {} });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    grpcAddress = `127.0.0.1:${port}`;

    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    signingKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k-1', alg: 'EdDSA', use: 'sig' };
    jwks = createServer((request, response) => {
      if (request.url !== '/.well-known/jwks.json') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    crewUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const client of clients) client.onModuleDestroy();
    server?.forceShutdown();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  beforeEach(() => {
    calls.length = 0;
    allowed = true;
  });

  function client(overrides: Partial<CrewAccessSettings> = {}, now?: () => number): CrewAccessControl {
    const settings = { ...loadCrewAccessSettings({ CO_CREW_URL: crewUrl, CO_CREW_GRPC_ADDRESS: grpcAddress }), ...overrides };
    const made = new CrewAccessControl(settings, now);
    clients.push(made);
    return made;
  }

  function token(claims: { iss?: string; aud?: string; exp?: number | string } = {}) {
    return new SignJWT({ name: 'alice' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k-1' })
      .setIssuer(claims.iss ?? 'containerops-crew')
      .setAudience(claims.aud ?? 'containerops')
      .setSubject('u-1')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m')
      .sign(signingKey);
  }

  it('asks crew once per decision within the cache time, and again after it', async () => {
    let now = 1_000_000;
    const access = client({ cacheSeconds: 10 }, () => now);
    expect(await access.authorize(USER, 'workflow:view', RESOURCE)).toEqual({ allowed: true, visible: true, reason: 'member may' });
    allowed = false;
    expect((await access.authorize(USER, 'workflow:view', RESOURCE)).allowed).toBe(true);
    expect(calls.filter((call) => call.method === 'authorize')).toHaveLength(1);
    expect(calls[0].request).toMatchObject({
      subject: { userId: 'u-1', username: 'alice', tokenId: '' },
      action: 'workflow:view',
      resource: { org: 'acme', project: 'web', type: 'workflow', id: 'w-1', owner: 'u-1' },
    });
    // Another action, resource or token is another question.
    await access.authorize(USER, 'workflow:run', RESOURCE);
    await access.authorize(USER, 'workflow:view', { ...RESOURCE, owner: 'u-2' });
    await access.authorize({ ...USER, tokenId: 't-9' }, 'workflow:view', RESOURCE);
    expect(calls.filter((call) => call.method === 'authorize')).toHaveLength(4);
    now += 10_000;
    expect((await access.authorize(USER, 'workflow:view', RESOURCE)).allowed).toBe(false);
    expect(calls.filter((call) => call.method === 'authorize')).toHaveLength(5);
  });

  it('asks every time with CO_AUTHZ_CACHE_SECONDS=0', async () => {
    const access = client({ cacheSeconds: 0 });
    await access.authorize(USER, 'workflow:view', RESOURCE);
    allowed = false;
    expect((await access.authorize(USER, 'workflow:view', RESOURCE)).allowed).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it('keeps list scopes like decisions', async () => {
    const access = client();
    const scope = await access.listScope(USER, 'workflow:view');
    expect(scope).toEqual({ everywhere: false, orgs: ['acme'], projects: ['globex/web'], ownEverywhere: false, ownOrgs: [], ownProjects: ['acme/api'] });
    await access.listScope(USER, 'workflow:view');
    expect(calls.filter((call) => call.method === 'listScope')).toHaveLength(1);
  });

  it("sends the caller's trace as traceparent", async () => {
    const access = client({ cacheSeconds: 0 });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    await context.with(parent, () => access.authorize(USER, 'workflow:view', RESOURCE));
    expect(calls[0].traceparent).toMatch(new RegExp(`^00-${traceId}-`));
  });

  it("verifies access tokens against crew's published keys", async () => {
    const access = client();
    expect(await access.authenticate({ scheme: 'bearer', token: await token() })).toEqual({ kind: 'user', userId: 'u-1', username: 'alice' });
    for (const bad of [await token({ iss: 'someone-else' }), await token({ aud: 'elsewhere' }), await token({ exp: Math.floor(Date.now() / 1000) - 120 }), 'not.a.token']) {
      await expect(access.authenticate({ scheme: 'bearer', token: bad })).rejects.toBeInstanceOf(UnauthenticatedError);
    }
    expect(calls).toHaveLength(0);
  });

  it('asks crew about API tokens (Bearer cop_… and Basic), keeping the answer', async () => {
    const access = client();
    const principal = { kind: 'user', userId: 'u-1', username: 'alice', tokenId: 't-1' };
    expect(await access.authenticate({ scheme: 'bearer', token: 'cop_good' })).toEqual(principal);
    expect(await access.authenticate({ scheme: 'bearer', token: 'cop_good' })).toEqual(principal);
    expect(await access.authenticate({ scheme: 'basic', username: 'alice', password: 'cop_good' })).toEqual(principal);
    await expect(access.authenticate({ scheme: 'basic', username: 'bob', password: 'cop_good' })).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(access.authenticate({ scheme: 'bearer', token: 'cop_bad' })).rejects.toThrow(/unknown token/);
    expect(calls.filter((call) => call.method === 'introspectToken').map((call) => call.request)).toEqual([
      { token: 'cop_good', username: '' },
      { token: 'cop_good', username: 'alice' },
      { token: 'cop_good', username: 'bob' },
      { token: 'cop_bad', username: '' },
    ]);
  });

  it('answers AccessUnavailableError, never a decision, when crew does not answer', async () => {
    const access = new CrewAccessControl({ ...loadCrewAccessSettings({}), crewUrl: `http://127.0.0.1:${await freePort()}`, grpcAddress: `127.0.0.1:${await freePort()}`, deadlineMs: 2000 });
    clients.push(access);
    await expect(access.authorize(USER, 'workflow:view', RESOURCE)).rejects.toBeInstanceOf(AccessUnavailableError);
    await expect(access.listScope(USER, 'workflow:view')).rejects.toBeInstanceOf(AccessUnavailableError);
    await expect(access.authenticate({ scheme: 'bearer', token: 'cop_good' })).rejects.toBeInstanceOf(AccessUnavailableError);
    await expect(access.authenticate({ scheme: 'bearer', token: await token() })).rejects.toBeInstanceOf(AccessUnavailableError);
  });

  it('reads its settings once, refusing bad values with the variable named', () => {
    expect(loadCrewAccessSettings({})).toMatchObject({ crewUrl: 'http://127.0.0.1:8081', grpcAddress: '127.0.0.1:9081', cacheSeconds: 10, cacheMaxEntries: 10_000 });
    expect(loadCrewAccessSettings({ CO_CREW_URL: 'https://crew.example.com/', CO_CREW_GRPC_ADDRESS: 'crew:9081', CO_AUTHZ_CACHE_SECONDS: '0' })).toMatchObject({
      crewUrl: 'https://crew.example.com',
      grpcAddress: 'crew:9081',
      cacheSeconds: 0,
    });
    for (const [variable, value] of [
      ['CO_CREW_URL', 'crew:8081'],
      ['CO_CREW_GRPC_ADDRESS', 'http://crew:9081'],
      ['CO_CREW_GRPC_ADDRESS', 'crew'],
      ['CO_AUTHZ_CACHE_SECONDS', '-1'],
      ['CO_AUTHZ_CACHE_SECONDS', '1.5'],
      ['CO_AUTHZ_CACHE_SECONDS', '301'],
    ]) {
      let caught: unknown;
      try {
        loadCrewAccessSettings({ [variable]: value });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(variable);
      expect((caught as ConfigError).message).toContain(JSON.stringify(value));
    }
  });
});
