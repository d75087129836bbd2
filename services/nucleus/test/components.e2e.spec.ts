import * as grpc from '@grpc/grpc-js';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { eventually, NATS_URL } from '../../../test/support/infra';
import { startNucleus, type GrpcClient, type TestNucleus, type TestUser } from './support/nucleus';

jest.setTimeout(120_000);

/** A manifest as YAML text, as authors write component.yaml. */
function yamlManifest(name: string, version: string, image: string, extra = ''): string {
  return `apiVersion: containerops.io/v1
kind: Component
metadata:
  name: ${name}
  namespace: acme
  version: ${version}
${extra}spec:
  image: ${image}
  command: ["sh", "-c", "echo '[COUT] greeting = hello'"]
  inputs:
    type: object
    properties: {name: {type: string}}
    required: [name]
  outputs:
    greeting: {type: string}
`;
}

function jsonManifest(name: string, version: string, image: string, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'containerops.io/v1',
    kind: 'Component',
    metadata: { name, namespace: 'acme', version, ...metadata },
    spec: { image, outputs: { result: { type: 'string' } } },
  };
}

describe('nucleus component registry', () => {
  let nucleus: TestNucleus;
  let alice: TestUser; // org-admin of acme: publishes
  let carol: TestUser; // viewer of acme/docs: sees acme's org components
  let bob: TestUser; // member of globex/web: another organization
  let host: string;
  let greeterDigest: string;
  let nats: NatsConnection;
  let subscription: Subscription;
  const subjects: string[] = [];
  let client: GrpcClient;

  const image = (repository: string, reference: string) => `${host}/acmetools/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;

  async function publish(token: string, body: unknown, contentType?: string) {
    return nucleus.call('POST', '/api/v1/components', token, body, contentType);
  }

  async function resolve(name: string, range: string, token = alice.token) {
    return nucleus.call('GET', `/api/v1/components/acme/${name}/resolve?range=${encodeURIComponent(range)}`, token);
  }

  beforeAll(async () => {
    nucleus = await startNucleus();
    const { dockyard } = nucleus;
    host = dockyard.host;
    nats = await connect({ servers: NATS_URL });
    subscription = nats.subscribe(`${dockyard.prefix}.nucleus.component.>`, { callback: (_error, message) => subjects.push(message.subject) });
    alice = await dockyard.createUser('alice');
    carol = await dockyard.createUser('carol');
    bob = await dockyard.createUser('bob');
    await dockyard.addMember('acme', 'alice', 'org-admin');
    await dockyard.addMember('acme/docs', 'carol', 'viewer');
    await dockyard.addMember('globex/web', 'bob', 'member');
    await dockyard.createWorkspace('acmetools', { org: 'acme', project: 'tools' });
    await dockyard.createWorkspace('globexws', { org: 'globex', project: 'web', visibility: 'public' });
    greeterDigest = await nucleus.pushImage('acmetools/greeter', '1.0.0');
    await nucleus.pushImage('acmetools/tools/hello', 'v1');
    await nucleus.pushImage('globexws/thing', '1');
    client = nucleus.grpcClient();
  });

  afterAll(async () => {
    subscription?.unsubscribe();
    await nats?.close();
    await nucleus?.close();
  });

  it('publishes the manifest of the documentation from YAML, pins its image by digest, lists, gets and resolves it', async () => {
    const published = await publish(alice.token, yamlManifest('greeter', '1.0.0', image('greeter', '1.0.0')));
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({
      namespace: 'acme',
      name: 'greeter',
      version: '1.0.0',
      project: 'tools',
      visibility: 'org',
      imageDigest: greeterDigest,
      pinnedImage: `${host}/acmetools/greeter@${greeterDigest}`,
      deprecated: false,
      yanked: false,
      publishedBy: 'alice',
    });
    expect(published.body.manifest.spec.inputs).toEqual({ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] });

    const listed = await nucleus.call('GET', '/api/v1/components?namespace=acme', alice.token);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((item: { name: string }) => item.name)).toContain('greeter');

    const got = await nucleus.call('GET', '/api/v1/components/acme/greeter', alice.token);
    expect(got.body).toMatchObject({ namespace: 'acme', name: 'greeter', latestVersion: '1.0.0', versions: [{ version: '1.0.0', imageDigest: greeterDigest }] });

    const version = await nucleus.call('GET', '/api/v1/components/acme/greeter/1.0.0', alice.token);
    expect(version.body).toMatchObject({ version: '1.0.0', pinnedImage: `${host}/acmetools/greeter@${greeterDigest}` });

    const resolved = await resolve('greeter', '^1');
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ version: '1.0.0', imageDigest: greeterDigest, outputs: { greeting: { type: 'string' } }, command: ['sh', '-c', "echo '[COUT] greeting = hello'"] });
  });

  it('publishes from JSON and resolves ranges: caret, tilde, x, exact, pre-releases, yanked and deprecated versions', async () => {
    const ref = image('tools/hello', 'v1');
    for (const version of ['1.0.0', '1.2.0', '1.2.5', '1.3.0', '2.0.0-rc.1', '2.0.0-rc.2']) {
      const answer = await publish(alice.token, jsonManifest('ranges', version, ref));
      expect({ version, status: answer.status }).toEqual({ version, status: 201 });
    }
    const versionOf = async (range: string) => {
      const answer = await resolve('ranges', range);
      return answer.status === 200 ? answer.body.version : `${answer.status} ${answer.body.error.code}`;
    };
    expect(await versionOf('^1.2')).toBe('1.3.0');
    expect(await versionOf('~1.2.3')).toBe('1.2.5');
    expect(await versionOf('1.x')).toBe('1.3.0');
    expect(await versionOf('1.2.0')).toBe('1.2.0');
    expect(await versionOf('^2')).toBe('404 COMPONENT.NO_MATCHING_VERSION');
    expect(await versionOf('^2.0.0-rc.1')).toBe('2.0.0-rc.2');
    expect(await versionOf('not a range')).toBe('400 COMPONENT.RANGE_INVALID');

    const yanked = await nucleus.call('POST', '/api/v1/components/acme/ranges/1.3.0/yank', alice.token, { reason: 'breaks the cache' });
    expect(yanked.status).toBe(200);
    expect(yanked.body).toMatchObject({ version: '1.3.0', yanked: true, yankReason: 'breaks the cache' });
    expect(await versionOf('^1.2')).toBe('1.2.5');
    const exactYanked = await resolve('ranges', '1.3.0');
    expect(exactYanked.status).toBe(404);
    expect(exactYanked.body.error.details.yankedMatches).toEqual(['1.3.0']);
    // A yanked version can still be read: revisions that pinned it keep running.
    expect((await nucleus.call('GET', '/api/v1/components/acme/ranges/1.3.0', alice.token)).body.yanked).toBe(true);

    const deprecated = await nucleus.call('POST', '/api/v1/components/acme/ranges/1.2.5/deprecate', alice.token, { message: 'use 2.x' });
    expect(deprecated.status).toBe(200);
    const resolved = await resolve('ranges', '^1.2');
    expect(resolved.body).toMatchObject({ version: '1.2.5', deprecated: true, deprecationMessage: 'use 2.x' });

    const component = await nucleus.call('GET', '/api/v1/components/acme/ranges', alice.token);
    expect(component.body.versions.map((entry: { version: string }) => entry.version)).toEqual(['2.0.0-rc.2', '2.0.0-rc.1', '1.3.0', '1.2.5', '1.2.0', '1.0.0']);
    expect(component.body.latestVersion).toBe('1.2.5');
  });

  it('never changes a published version: publishing it again is a 409, also when two publish at once', async () => {
    const again = await publish(alice.token, yamlManifest('greeter', '1.0.0', image('greeter', '1.0.0')));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('COMPONENT.VERSION_EXISTS');

    const both = await Promise.all([1, 2].map(() => publish(alice.token, jsonManifest('racer', '1.0.0', image('greeter', '1.0.0')))));
    expect(both.map((answer) => answer.status).sort()).toEqual([201, 409]);
    const events = await nucleus.service.runtime.store.readStream('component-acme.racer');
    expect(events.map((event) => event.type)).toEqual(['ComponentPublished']);
  });

  it('refuses an invalid manifest with every problem and its JSON path', async () => {
    const answer = await publish(
      alice.token,
      `apiVersion: containerops.io/v1
kind: Component
metadata:
  name: Bad_Name
  namespace: acme
  version: v1
  colour: red
spec:
  image: ${image('greeter', '1.0.0')}
  inputs:
    type: object
    properties: {name: {type: strin}}
  outputs:
    greeting: {type: text}
`,
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('COMPONENT.INVALID');
    const paths = answer.body.error.details.errors.map((error: { path: string }) => error.path);
    expect(paths).toEqual(
      expect.arrayContaining(['$.metadata.name', '$.metadata.version', '$.metadata.colour', '$.spec.inputs.properties.name.type', '$.spec.outputs.greeting.type']),
    );
    const unreadable = await publish(alice.token, 'kind: [', 'application/yaml');
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.error.code).toBe('COMPONENT.INVALID');
    const wrongType = await publish(alice.token, 'x', 'text/plain');
    expect(wrongType.status).toBe(415);
  });

  it('refuses images that dockyard does not hold, or that another registry holds', async () => {
    const missingTag = await publish(alice.token, yamlManifest('ghost', '1.0.0', image('greeter', '9.9.9')));
    expect(missingTag.status).toBe(422);
    expect(missingTag.body.error.code).toBe('COMPONENT.IMAGE_NOT_FOUND');
    expect(missingTag.body.error.message).toMatch(/has no tag 9\.9\.9/);
    const missingRepository = await publish(alice.token, yamlManifest('ghost', '1.0.0', image('nothing-here', '1')));
    expect(missingRepository.status).toBe(422);
    expect(missingRepository.body.error.code).toBe('COMPONENT.IMAGE_NOT_FOUND');
    const missingWorkspace = await publish(alice.token, yamlManifest('ghost', '1.0.0', `${host}/noworkspace/app:1`));
    expect(missingWorkspace.body.error.code).toBe('COMPONENT.IMAGE_NOT_FOUND');
    const elsewhere = await publish(alice.token, yamlManifest('ghost', '1.0.0', 'registry.example.com/acmetools/greeter:1.0.0'));
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.error.code).toBe('COMPONENT.IMAGE_NOT_IN_DOCKYARD');
    const otherOrg = await publish(alice.token, yamlManifest('ghost', '1.0.0', `${host}/globexws/thing:1`));
    expect(otherOrg.status).toBe(422);
    expect(otherOrg.body.error.code).toBe('COMPONENT.IMAGE_OUTSIDE_NAMESPACE');
    expect((await nucleus.call('GET', '/api/v1/components/acme/ghost', alice.token)).status).toBe(404);
  });

  it('keeps the pinned digest of a version after the tag moves in dockyard', async () => {
    const first = await nucleus.pushImage('acmetools/mover', 'stable');
    expect((await publish(alice.token, jsonManifest('mover', '1.0.0', image('mover', 'stable')))).status).toBe(201);
    const second = await nucleus.pushImage('acmetools/mover', 'stable');
    expect(second).not.toBe(first);
    const pinned = await resolve('mover', '1.0.0');
    expect(pinned.body).toMatchObject({ version: '1.0.0', imageDigest: first, pinnedImage: `${host}/acmetools/mover@${first}` });
    const next = await publish(alice.token, jsonManifest('mover', '1.0.1', image('mover', 'stable')));
    expect(next.body.imageDigest).toBe(second);
    const byDigest = await publish(alice.token, jsonManifest('mover', '1.0.2', image('mover', second)));
    expect(byDigest.status).toBe(201);
    expect(byDigest.body).toMatchObject({ imageDigest: second, pinnedImage: `${host}/acmetools/mover@${second}` });
    // dockyard's REST API shows tagged versions only: a digest no tag names cannot be checked, so it is refused.
    const untagged = await publish(alice.token, jsonManifest('mover', '1.0.3', image('mover', first)));
    expect(untagged.status).toBe(422);
    expect(untagged.body.error.code).toBe('COMPONENT.IMAGE_NOT_FOUND');
    expect((await resolve('mover', '1.0.0')).body.imageDigest).toBe(first);
  });

  it('shows org components inside their organization only, public ones to everybody', async () => {
    expect((await publish(alice.token, jsonManifest('shared', '1.0.0', image('greeter', '1.0.0'), { visibility: 'public', labels: ['greeting'], description: 'Says hello to everyone' }))).status).toBe(201);

    const hidden = await nucleus.call('GET', '/api/v1/components/acme/greeter', bob.token);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('COMPONENT.NOT_FOUND');
    expect((await resolve('greeter', '^1', bob.token)).status).toBe(404);
    expect((await nucleus.call('GET', '/api/v1/components/acme/greeter/1.0.0', bob.token)).status).toBe(404);
    const bobList = await nucleus.call('GET', '/api/v1/components', bob.token);
    expect(bobList.body.items.map((item: { name: string }) => item.name)).toEqual(['shared']);
    expect((await resolve('shared', '1.x', bob.token)).body.version).toBe('1.0.0');

    // A viewer of another project of acme sees acme's org components.
    expect((await nucleus.call('GET', '/api/v1/components/acme/greeter', carol.token)).status).toBe(200);
    const carolList = await nucleus.call('GET', '/api/v1/components?pageSize=2&page=1', carol.token);
    expect(carolList.body).toMatchObject({ page: 1, pageSize: 2 });
    expect(carolList.body.total).toBeGreaterThan(2);
    expect(carolList.body.items).toHaveLength(2);

    // Search by label and by words.
    expect((await nucleus.call('GET', '/api/v1/components?label=greeting', bob.token)).body.items.map((item: { name: string }) => item.name)).toEqual(['shared']);
    expect((await nucleus.call('GET', '/api/v1/components?q=HELLO%20everyone', carol.token)).body.items.map((item: { name: string }) => item.name)).toEqual(['shared']);

    // Seeing a public component does not allow changing it; a hidden one does not exist.
    const forbidden = await nucleus.call('POST', '/api/v1/components/acme/shared/1.0.0/deprecate', bob.token, { message: 'mine now' });
    expect(forbidden.status).toBe(403);
    const hiddenYank = await nucleus.call('POST', '/api/v1/components/acme/greeter/1.0.0/yank', bob.token, { reason: 'x' });
    expect(hiddenYank.status).toBe(404);
    // bob cannot publish in acme: he may not even pull acme's private images.
    const intruder = await publish(bob.token, yamlManifest('intruder', '1.0.0', image('greeter', '1.0.0')));
    expect(intruder.status).toBe(422);
    expect((await nucleus.call('POST', '/api/v1/components', null, yamlManifest('anon', '1.0.0', image('greeter', '1.0.0')))).status).toBe(401);
  });

  it('appends events to the component stream and publishes them on NATS', async () => {
    const events = await nucleus.service.runtime.store.readStream('component-acme.ranges');
    expect(events.map((event) => event.type)).toEqual([...Array(6).fill('ComponentPublished'), 'ComponentYanked', 'ComponentDeprecated']);
    expect(events[0].data).toMatchObject({ namespace: 'acme', name: 'ranges', version: '1.0.0', project: 'tools', visibility: 'org', publishedBy: 'alice' });
    const prefix = nucleus.dockyard.prefix;
    await eventually(async () => ['ComponentPublished', 'ComponentYanked', 'ComponentDeprecated'].every((type) => subjects.includes(`${prefix}.nucleus.component.${type}`)), 15_000, 'component events on NATS');
  });

  it('answers ResolveComponent, GetComponent, ListComponents and PublishComponent over gRPC with the same rules', async () => {
    const metadataOf = (token: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    };
    const invoke = <T = any>(method: string, request: object, token = alice.token): Promise<T> =>
      new Promise((done, fail) => client[method](request, metadataOf(token), (error, response) => (error ? fail(error) : done(response))));

    const resolved = await invoke('resolveComponent', { namespace: 'acme', name: 'greeter', range: '^1.0' });
    expect(resolved).toMatchObject({ version: '1.0.0', imageDigest: greeterDigest, pinnedImage: `${host}/acmetools/greeter@${greeterDigest}`, outputs: { greeting: 'string' }, deprecated: false });
    expect(JSON.parse(resolved.inputsSchemaJson)).toMatchObject({ type: 'object', required: ['name'] });

    const hidden = await invoke('resolveComponent', { namespace: 'acme', name: 'greeter', range: '' }, bob.token).catch((error: grpc.ServiceError) => error);
    expect((hidden as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    expect((hidden as grpc.ServiceError).metadata.get('error-code')[0]).toBe('COMPONENT.NOT_FOUND');

    const published = await invoke('publishComponent', { manifest: yamlManifest('greeter', '1.1.0', image('greeter', '1.0.0')), format: 'yaml' });
    expect(published).toMatchObject({ version: '1.1.0', imageDigest: greeterDigest, project: 'tools' });
    const component = await invoke('getComponent', { namespace: 'acme', name: 'greeter' });
    expect(component.versions.map((entry: { version: string }) => entry.version)).toEqual(['1.1.0', '1.0.0']);
    const list = await invoke('listComponents', { namespace: 'acme', name: 'greet' });
    expect(list.items.map((item: { name: string }) => item.name)).toEqual(['greeter']);
    const invalid = await invoke('publishComponent', { manifest: 'kind: Component', format: 'yaml' }).catch((error: grpc.ServiceError) => error);
    expect((invalid as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(JSON.parse(String((invalid as grpc.ServiceError).metadata.get('error-details')[0])).errors.length).toBeGreaterThan(1);
  });
});
