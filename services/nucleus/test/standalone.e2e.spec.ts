import { startService, type RunningService } from '@co/service-kit';
import { startAccessCrew, type AccessCrew } from '../../../test/support/crew-access';
import { withEnvironment } from '../../../test/support/infra';
import { testServiceConfig } from '../../../test/support/services';
import { validateManifest } from '../src/components/component-manifest';
import { componentStream, type ComponentPublished } from '../src/components/component.events';
import { nucleusService } from '../src/nucleus.service';

jest.setTimeout(60_000);

/** The read model on SQLite (standalone mode): migrations, projection and queries. */
describe('nucleus on SQLite', () => {
  let crew: AccessCrew;
  let nucleus: RunningService;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    crew = await startAccessCrew('standalone');
    const configured = await testServiceConfig('nucleus', 'standalone');
    cleanup = configured.cleanup;
    nucleus = await withEnvironment({ ...crew.env, CO_AUTHZ_CACHE_SECONDS: '0', CO_NUCLEUS_OFFICIAL_COMPONENTS: 'false' }, () => startService(nucleusService, configured.config));
  });
  afterAll(async () => {
    await nucleus?.close();
    await cleanup?.();
    await crew?.close();
  });

  async function get(route: string) {
    const response = await fetch(`${nucleus.httpUrl}${route}`, { headers: { authorization: `Bearer ${crew.admin.token}` } });
    return { status: response.status, body: (await response.json()) as any };
  }

  it('projects published, deprecated and yanked versions and answers searches', async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const stream = componentStream('default', 'echo');
    let position = 0;
    for (const version of ['1.0.0', '1.1.0', '2.0.0-rc.1']) {
      const manifest = validateManifest({
        apiVersion: 'containerops.io/v1',
        kind: 'Component',
        metadata: { name: 'echo', namespace: 'default', version, labels: ['Example'.toLowerCase()], description: 'Echoes 100% of its input' },
        spec: { image: '127.0.0.1:5000/official/echo:1', outputs: { text: { type: 'string' } } },
      });
      const data: ComponentPublished = { namespace: 'default', name: 'echo', version, project: 'admin', manifest, imageDigest: digest, pinnedImage: `127.0.0.1:5000/official/echo@${digest}`, visibility: 'org', publishedBy: 'admin' };
      const [recorded] = await nucleus.runtime.store.append(stream, 'any', [{ type: 'ComponentPublished', data }]);
      position = recorded.position;
    }
    const [yanked] = await nucleus.runtime.store.append(stream, 'any', [{ type: 'ComponentYanked', data: { namespace: 'default', name: 'echo', version: '1.1.0', reason: 'broken' } }]);
    const [deprecated] = await nucleus.runtime.store.append(stream, 'any', [{ type: 'ComponentDeprecated', data: { namespace: 'default', name: 'echo', version: '1.0.0', message: 'old' } }]);
    position = Math.max(position, yanked.position, deprecated.position);
    expect(await nucleus.runtime.projections.settle(position)).toBe(true);

    const component = await get('/api/v1/components/default/echo');
    expect(component.body).toMatchObject({ latestVersion: '1.0.0', labels: ['example'], versions: [{ version: '2.0.0-rc.1' }, { version: '1.1.0', yanked: true }, { version: '1.0.0', deprecated: true }] });
    expect((await get('/api/v1/components/default/echo/resolve?range=%5E1')).body).toMatchObject({ version: '1.0.0', deprecated: true, deprecationMessage: 'old' });
    expect((await get('/api/v1/components?q=100%25&label=example')).body).toMatchObject({ total: 1, items: [{ name: 'echo' }] });
    expect((await get('/api/v1/components?q=99%25')).body.total).toBe(0);
    expect((await get('/api/v1/components?name=ech')).body.total).toBe(1);
  });
});
