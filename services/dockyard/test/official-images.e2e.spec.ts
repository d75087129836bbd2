import { execFileSync } from 'node:child_process';
import { imageStream } from '../src/registry';
import { OfficialImagesService, PACKAGE_LABEL_PREFIX } from '../src/official/official-images.service';
import { startDockyard, type TestDockyard } from './support/dockyard';

jest.setTimeout(300_000);

const IMAGES = ['echo', 'run-script', 'git-clone'];
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json';

function installed(name: string): string {
  return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' });
}

/**
 * The official images, built by dockyard at start from this machine's Debian packages
 * (busybox-static, git, ca-certificates and git's libraries, as the CI installs them)
 * into the public workspace `official`, against the real MariaDB and NATS.
 */
describe('official images', () => {
  let dockyard: TestDockyard;

  /** Anonymous, as anyone pulls from a public workspace. */
  async function manifestOf(repository: string): Promise<{ status: number; digest: string | null; body: any }> {
    const response = await fetch(`${dockyard.url}/v2/official/${repository}/manifests/1.0`, { headers: { accept: MANIFEST_TYPES } });
    const text = await response.text();
    return { status: response.status, digest: response.headers.get('docker-content-digest'), body: response.status === 200 ? JSON.parse(text) : text };
  }

  async function blob(repository: string, digest: string): Promise<Buffer> {
    const response = await fetch(`${dockyard.url}/v2/official/${repository}/blobs/${digest}`);
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  async function waitForImages(): Promise<Record<string, string>> {
    const deadline = Date.now() + 240_000;
    const digests: Record<string, string> = {};
    while (Date.now() < deadline) {
      for (const image of IMAGES) {
        if (digests[image]) continue;
        const answer = await manifestOf(image);
        if (answer.status === 200) digests[image] = answer.digest!;
      }
      if (Object.keys(digests).length === IMAGES.length) return digests;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`dockyard did not build the official images in time; it has ${JSON.stringify(digests)}`);
  }

  beforeAll(async () => {
    dockyard = await startDockyard({ CO_DOCKYARD_OFFICIAL_IMAGES: 'true' });
  });
  afterAll(async () => {
    await dockyard?.close();
  });

  it('builds echo, run-script and git-clone into the public workspace official, recording the Debian packages as labels', async () => {
    const digests = await waitForImages();
    const workspace = await dockyard.call('GET', '/api/v1/workspaces/official');
    expect(workspace.body).toMatchObject({ name: 'official', org: 'official', project: 'components', visibility: 'public', createdBy: 'system' });

    const echo = await manifestOf('echo');
    expect(echo.body.layers).toHaveLength(1);
    const echoConfig = JSON.parse((await blob('echo', echo.body.config.digest)).toString());
    expect(echoConfig.config.Labels[`${PACKAGE_LABEL_PREFIX}busybox-static`]).toBe(installed('busybox-static'));
    expect(echoConfig.config.Cmd).toEqual(['/usr/local/bin/co-echo']);

    const git = await manifestOf('git-clone');
    const gitConfig = JSON.parse((await blob('git-clone', git.body.config.digest)).toString());
    expect(gitConfig.config.Labels).toMatchObject({
      [`${PACKAGE_LABEL_PREFIX}git`]: installed('git'),
      [`${PACKAGE_LABEL_PREFIX}ca-certificates`]: installed('ca-certificates'),
      [`${PACKAGE_LABEL_PREFIX}busybox-static`]: installed('busybox-static'),
      [`${PACKAGE_LABEL_PREFIX}libc6`]: installed('libc6'),
    });

    const tags = await dockyard.call('GET', '/api/v1/workspaces/official/repositories/echo/tags');
    expect(tags.body.items.map((item: { tag: string; digest: string }) => [item.tag, item.digest])).toEqual([['1.0', digests.echo]]);
    // Pushing into it still needs rights: anonymous callers only pull.
    const push = await fetch(`${dockyard.url}/v2/official/echo/blobs/uploads/`, { method: 'POST' });
    expect(push.status).toBe(401);
  });

  it('gives the same digests after a restart, and stores nothing again', async () => {
    const before = await waitForImages();
    await dockyard.restart();
    const outcomes = await dockyard.service.app.get(OfficialImagesService).ensureAll();
    expect(outcomes.map((outcome) => [outcome.repository, outcome.status, 'digest' in outcome ? outcome.digest : null])).toEqual(
      IMAGES.map((image) => [`official/${image}`, 'current', before[image]]),
    );
    expect(await waitForImages()).toEqual(before);
    const pushed = await dockyard.service.runtime.store.readStream(imageStream('official/echo'));
    expect(pushed.filter((event) => event.type === 'ImagePushed')).toHaveLength(1);
    expect(pushed[0]).toMatchObject({ metadata: expect.objectContaining({ actor: 'system', tenant: 'official' }) });
  });
});
