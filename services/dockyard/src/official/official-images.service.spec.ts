import { buffer } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import type { ServiceRuntime } from '@co/service-kit';
import type { DockyardSettings } from '../dockyard-settings';
import type { ManifestService } from '../registry';
import type { BlobStore } from '../storage/blob-store';
import type { Workspace, WorkspacesService } from '../workspaces/workspaces.service';
import { DebianHost, MissingPackageError } from './debian-host';
import { sha256 } from './image-layer';
import { OfficialImagesService, PACKAGE_LABEL_PREFIX } from './official-images.service';

/** A host whose packages are the listed ones; busybox is this machine's, when installed. */
class FakeHost extends DebianHost {
  constructor(private readonly installed: Record<string, string>) {
    super();
  }
  override async requirePackage(name: string) {
    const version = this.installed[name];
    if (!version) throw new MissingPackageError(name);
    return { name, version };
  }
  override async architecture() {
    return 'amd64';
  }
  override async busyboxApplets() {
    return ['/bin/sh', '/usr/bin/awk'];
  }
  override async files(): Promise<string[]> {
    throw new MissingPackageError('git');
  }
}

function fakes() {
  const blobs = new Map<string, Buffer>();
  const tags = new Map<string, string>();
  const pushed: string[] = [];
  let workspace: Workspace | undefined;
  const store = {
    put: async (source: Readable) => {
      const bytes = await buffer(source);
      blobs.set(sha256(bytes), bytes);
      return { digest: sha256(bytes), size: bytes.length };
    },
  } as unknown as BlobStore;
  const workspaces = {
    find: async () => workspace,
    create: async (input: Omit<Workspace, 'createdBy' | 'createdAt' | 'updatedAt'>) => {
      workspace = { ...input, createdBy: 'system', createdAt: '', updatedAt: '' };
      return workspace;
    },
    require: async () => workspace!,
  } as unknown as WorkspacesService;
  const manifests = {
    find: async (repository: string, reference: { tag: string }) => {
      const digest = tags.get(`${repository}:${reference.tag}`);
      return digest ? { digest, mediaType: '', size: 0 } : undefined;
    },
    linkBlob: async (_repository: string, digest: string) => {
      if (!blobs.has(digest)) throw new Error(`blob ${digest} not stored`);
    },
    putManifest: async (repository: string, tag: string, bytes: Buffer) => {
      tags.set(`${repository}:${tag}`, sha256(bytes));
      blobs.set(sha256(bytes), bytes);
      pushed.push(`${repository}:${tag}`);
      return { repository, digest: sha256(bytes), mediaType: '', size: bytes.length, subject: null, tag };
    },
  } as unknown as ManifestService;
  return { blobs, tags, pushed, store, workspaces, manifests, workspace: () => workspace };
}

const settings = { officialImages: true } as DockyardSettings;
const busyboxInstalled = require('node:fs').existsSync('/bin/busybox');

describe('OfficialImagesService', () => {
  let warn: jest.Mock;
  let runtime: ServiceRuntime;
  beforeEach(() => {
    warn = jest.fn();
    const logger = { info: jest.fn(), warn };
    runtime = { logger: { child: () => logger } } as unknown as ServiceRuntime;
  });

  it('skips every image whose package is missing, warning once with the package name, and creates the public workspace', async () => {
    const world = fakes();
    const service = new OfficialImagesService(settings, world.store, world.workspaces, world.manifests, new FakeHost({}), runtime);
    const outcomes = await service.ensureAll();
    expect(outcomes.map((outcome) => [outcome.repository, outcome.status])).toEqual([
      ['official/echo', 'skipped'],
      ['official/run-script', 'skipped'],
      ['official/git-clone', 'skipped'],
    ]);
    const messages = warn.mock.calls.map(([message]) => String(message));
    expect(messages.filter((message) => message.includes('busybox-static'))).toHaveLength(1);
    expect(messages.filter((message) => message.includes('Debian package git '))).toHaveLength(1);
    expect(world.pushed).toEqual([]);
    expect(world.workspace()).toMatchObject({ name: 'official', org: 'official', project: 'components', visibility: 'public' });
  });

  (busyboxInstalled ? it : it.skip)('stores an image once: a second round finds its tag on the same digest; new package versions give a new digest', async () => {
    const world = fakes();
    const host = new FakeHost({ 'busybox-static': '1:1.35.0-4' });
    const service = new OfficialImagesService(settings, world.store, world.workspaces, world.manifests, host, runtime);
    const first = await service.ensureAll();
    expect(first.map((outcome) => [outcome.repository, outcome.status])).toEqual([
      ['official/echo', 'stored'],
      ['official/run-script', 'stored'],
      ['official/git-clone', 'skipped'],
    ]);
    const echo = first[0] as { digest: string };
    const config = JSON.parse(world.blobs.get(JSON.parse(world.blobs.get(echo.digest)!.toString()).config.digest)!.toString());
    expect(config.config.Labels[`${PACKAGE_LABEL_PREFIX}busybox-static`]).toBe('1:1.35.0-4');
    expect(config.config.Cmd).toEqual(['/usr/local/bin/co-echo']);

    const again = await new OfficialImagesService(settings, world.store, world.workspaces, world.manifests, host, runtime).ensureAll();
    expect(again.slice(0, 2)).toEqual([expect.objectContaining({ status: 'current', digest: echo.digest }), expect.objectContaining({ status: 'current' })]);
    expect(world.pushed).toHaveLength(2);

    const upgraded = await new OfficialImagesService(settings, world.store, world.workspaces, world.manifests, new FakeHost({ 'busybox-static': '1:1.35.0-5' }), runtime).ensureAll();
    expect(upgraded[0]).toMatchObject({ status: 'stored', repository: 'official/echo' });
    expect((upgraded[0] as { digest: string }).digest).not.toBe(echo.digest);
  });

  it('leaves a workspace named official that another organization owns alone', async () => {
    const world = fakes();
    await world.workspaces.create({ name: 'official', org: 'acme', project: 'web', visibility: 'private', description: '' }, 'alice');
    const service = new OfficialImagesService(settings, world.store, world.workspaces, world.manifests, new FakeHost({ 'busybox-static': '1' }), runtime);
    const outcomes = await service.ensureAll();
    expect(outcomes.every((outcome) => outcome.status === 'skipped')).toBe(true);
    expect(warn.mock.calls.map(([message]) => String(message)).join('\n')).toMatch(/belongs to organization acme/);
    expect(world.pushed).toEqual([]);
  });
});
