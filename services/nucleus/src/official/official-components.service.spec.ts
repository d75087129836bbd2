import { ConflictError, UnavailableError } from '@co/common';
import type { ServiceRuntime } from '@co/service-kit';
import type { ComponentsService } from '../components/components.service';
import type { DockyardImages, FoundImage } from '../components/dockyard-images';
import type { NucleusSettings } from '../nucleus-settings';
import { OfficialComponentsService } from './official-components.service';

const quiet = { info: () => undefined, warn: () => undefined };
const runtime = { logger: { child: () => quiet } } as unknown as ServiceRuntime;

const settings = { registryHosts: ['127.0.0.1:5000'], officialComponents: true } as NucleusSettings;
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

/** A registry of versions per component, and what dockyard's tags name. */
function world(tags: Record<string, string | undefined | Error>) {
  const versions = new Map<string, { version: string; imageDigest: string }[]>();
  const published: { name: string; version: string; image: string; digest: string; actor: string }[] = [];
  let stolen = 0;
  const components = {
    pinnedDigests: async (_namespace: string, name: string) => versions.get(name) ?? [],
    publishAsPlatform: async (document: any, found: FoundImage, actor: string) => {
      const name = document.metadata.name;
      const list = versions.get(name) ?? [];
      if (stolen > 0) {
        // Another replica takes this version (with the same digest) first.
        stolen--;
        list.push({ version: document.metadata.version, imageDigest: found.digest });
        versions.set(name, list);
        throw new ConflictError('COMPONENT.VERSION_EXISTS', 'taken');
      }
      list.push({ version: document.metadata.version, imageDigest: found.digest });
      versions.set(name, list);
      published.push({ name, version: document.metadata.version, image: document.spec.image, digest: found.digest, actor });
      return {};
    },
  } as unknown as ComponentsService;
  const images = {
    publicDigest: async (image: { repository: string; tag: string }) => {
      const answer = tags[image.repository];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as DockyardImages;
  return { components, images, versions, published, steal: (count: number) => (stolen = count) };
}

describe('OfficialComponentsService', () => {
  it('publishes each component as 1.0.0, pinned to the digest of its line tag, as system; a second round publishes nothing', async () => {
    const w = world({ echo: digest(1), 'run-script': digest(2), 'git-clone': digest(3) });
    const service = new OfficialComponentsService(settings, w.components, w.images, runtime);
    expect((await service.seed()).map((outcome) => [outcome.name, outcome.status])).toEqual([
      ['echo', 'published'],
      ['run-script', 'published'],
      ['git-clone', 'published'],
    ]);
    expect(w.published[0]).toEqual({ name: 'echo', version: '1.0.0', image: '127.0.0.1:5000/official/echo:1.0', digest: digest(1), actor: 'system' });
    expect((await service.seed()).every((outcome) => outcome.status === 'current')).toBe(true);
    expect(w.published).toHaveLength(3);
  });

  it('publishes a rebuilt image as the next patch version of the line', async () => {
    const w = world({ echo: digest(4), 'run-script': undefined, 'git-clone': new UnavailableError('COMPONENT.DOCKYARD_UNAVAILABLE', 'dockyard cannot be reached') });
    w.versions.set('echo', [
      { version: '1.0.0', imageDigest: digest(1) },
      { version: '1.0.1', imageDigest: digest(2) },
      { version: '2.0.0', imageDigest: digest(3) },
    ]);
    const outcomes = await new OfficialComponentsService(settings, w.components, w.images, runtime).seed();
    expect(outcomes[0]).toEqual({ name: 'echo', status: 'published', version: '1.0.2', digest: digest(4) });
    expect(outcomes[1]).toMatchObject({ name: 'run-script', status: 'waiting', reason: expect.stringContaining('official/run-script:1.0') });
    expect(outcomes[2]).toMatchObject({ name: 'git-clone', status: 'waiting', reason: expect.stringContaining('cannot be reached') });
  });

  it('reads back a version another replica took at the same moment instead of publishing it twice', async () => {
    const w = world({ echo: digest(1), 'run-script': digest(2), 'git-clone': digest(3) });
    w.steal(1);
    const outcomes = await new OfficialComponentsService(settings, w.components, w.images, runtime).seed();
    expect(outcomes[0]).toEqual({ name: 'echo', status: 'current', version: '1.0.0', digest: digest(1) });
    expect(w.versions.get('echo')).toHaveLength(1);
  });
});
