import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { client, registryClientEnvironment, type ClientEnvironment } from '../../dockyard/test/fixtures/images';
import { componentStream } from '../../nucleus/src/components/component.events';
import { OfficialComponentsService } from '../../nucleus/src/official/official-components.service';
import { startNucleus, type TestNucleus } from '../../nucleus/test/support/nucleus';
import { eventually, freePort } from '../../../test/support/infra';
import { action, call, finishedRun, workflow } from './support/api';
import { startPilotage, type TestPilotage } from './support/pilotage';
import { removeImage } from './support/podman';

jest.setTimeout(420_000);

const OFFICIAL = ['echo', 'git-clone', 'run-script'];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Tester', '-c', 'user.email=tester@example.com', ...args], { cwd, encoding: 'utf8' }).trim();
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The official components end to end: dockyard builds their images from this machine's
 * Debian packages, nucleus publishes them (namespace `official`) once they are there,
 * and a workflow runs official/git-clone (against a repository served by `git daemon`
 * on 127.0.0.1: task containers share the host's network in the tests), official/echo
 * and official/run-script on the real Podman. Podman trusts only 127.0.0.1:5000 over
 * plain HTTP, so the pinned images are loaded into it by digest first, as in
 * components.e2e.spec.ts.
 */
describe('official components: built by dockyard, published by nucleus, run by pilotage', () => {
  let nucleus: TestNucleus;
  let pilotage: TestPilotage;
  let clients: ClientEnvironment;
  let work: string;
  let daemon: ChildProcess | undefined;
  let gitPort: number;
  let headCommit: string;
  let tagCommit: string;
  const preloaded: string[] = [];

  async function officialComponents(): Promise<any[]> {
    const answer = await nucleus.call('GET', '/api/v1/components?namespace=official', nucleus.dockyard.crew.admin.token);
    return answer.body.items;
  }

  beforeAll(async () => {
    nucleus = await startNucleus({ CO_NUCLEUS_OFFICIAL_COMPONENTS: 'true' }, { CO_DOCKYARD_OFFICIAL_IMAGES: 'true' });
    const dockyard = nucleus.dockyard;
    clients = registryClientEnvironment(dockyard.host);
    const pilot = await dockyard.createUser('pilot');
    await dockyard.addMember('default', 'pilot', 'org-admin');
    work = mkdtempSync(path.join(tmpdir(), 'co-official-'));
    const authFile = path.join(work, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [dockyard.host]: { username: 'admin', password: dockyard.crew.admin.password } } }));
    pilotage = await startPilotage(
      { CO_SUBJECT_PREFIX: dockyard.prefix },
      'distributed',
      { CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: nucleus.service.grpcAddress, CO_PILOTAGE_REGISTRY_AUTH_FILE: authFile },
      { ...dockyard.crew, pilot },
    );

    // A repository with two commits and a tag on the first, served read-only over git://.
    const source = path.join(work, 'source');
    execFileSync('git', ['init', '-q', '-b', 'main', source]);
    writeFileSync(path.join(source, 'README'), 'one\n');
    git(source, 'add', 'README');
    git(source, 'commit', '-q', '-m', 'one');
    git(source, 'tag', 'v1');
    writeFileSync(path.join(source, 'README'), 'two\n');
    git(source, 'commit', '-q', '-am', 'two');
    headCommit = git(source, 'rev-parse', 'HEAD');
    tagCommit = git(source, 'rev-parse', 'v1^{commit}');
    const served = path.join(work, 'served');
    execFileSync('git', ['clone', '-q', '--bare', source, path.join(served, 'app.git')]);
    gitPort = await freePort();
    daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${served}`, '--listen=127.0.0.1', `--port=${gitPort}`, served], { stdio: 'ignore' });
    await eventually(() => portAnswers(gitPort), 15_000, 'git daemon to listen');
  });

  afterAll(async () => {
    daemon?.kill();
    for (const image of preloaded) await removeImage(image).catch(() => undefined);
    await pilotage?.close();
    await nucleus?.close();
    clients?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('publishes official/echo, official/git-clone and official/run-script 1.0.0, public, pinned to the images dockyard built', async () => {
    const items = await eventually(async () => {
      const found = await officialComponents();
      return found.length === OFFICIAL.length && found;
    }, 300_000, 'nucleus to publish the official components');
    expect(items.map((item: any) => [item.name, item.visibility, item.latestVersion, item.project])).toEqual(OFFICIAL.map((name) => [name, 'public', '1.0.0', 'components']));

    for (const name of OFFICIAL) {
      const version = (await nucleus.call('GET', `/api/v1/components/official/${name}/1.0.0`, nucleus.dockyard.crew.admin.token)).body;
      const tag = await fetch(`${nucleus.dockyard.url}/v2/official/${name}/manifests/1.0`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(version).toMatchObject({ publishedBy: 'system', imageDigest: tag.headers.get('docker-content-digest'), image: `${nucleus.dockyard.host}/official/${name}:1.0` });
      const events = await nucleus.service.runtime.store.readStream(componentStream('official', name));
      expect(events.map((event) => [event.type, event.metadata.actor])).toEqual([['ComponentPublished', 'system']]);
    }

    // Seen by users of any organization.
    const outsider = await nucleus.dockyard.createUser('outsider');
    expect((await nucleus.call('GET', '/api/v1/components/official/git-clone/resolve?range=%5E1', outsider.token)).body).toMatchObject({ version: '1.0.0' });

    // Another round (a restart, another replica) publishes nothing new.
    const again = await nucleus.service.app.get(OfficialComponentsService).seed();
    expect(again.map((outcome) => [outcome.name, outcome.status])).toEqual([
      ['echo', 'current'],
      ['run-script', 'current'],
      ['git-clone', 'current'],
    ]);
    expect((await nucleus.call('GET', '/api/v1/components/official/echo', nucleus.dockyard.crew.admin.token)).body.versions).toHaveLength(1);
  });

  it('runs git-clone, echo and run-script in a workflow: the commit output is the repository’s', async () => {
    await eventually(async () => (await officialComponents()).length === OFFICIAL.length, 300_000, 'the official components');
    for (const name of OFFICIAL) {
      const { pinnedImage } = (await nucleus.call('GET', `/api/v1/components/official/${name}/1.0.0`, nucleus.dockyard.crew.admin.token)).body;
      await client('podman', ['pull', '--quiet', pinnedImage], clients.env);
      preloaded.push(pinnedImage);
    }
    const url = `git://127.0.0.1:${gitPort}/app.git`;
    const saved = await call(
      pilotage.url,
      'POST',
      '/api/v1/workflows',
      workflow('official-components', [
        {
          name: 'checkout',
          sequencing: 'parallel',
          actions: [
            { name: 'head', component: 'official/git-clone@^1', inputs: { url } },
            { name: 'tagged', component: 'official/git-clone@^1', inputs: { url, ref: 'v1', depth: 0, directory: 'tagged/app' } },
          ],
        },
        { name: 'say', actions: [{ name: 'commit', component: 'official/echo@^1', inputs: { message: 'cloned ${stages.checkout.head.outputs.commit}' } }] },
        {
          name: 'script',
          actions: [
            {
              name: 'check',
              component: 'official/run-script@^1',
              inputs: {
                script: 'test "$(pwd)" = /workspace\necho "[COUT] result = $GREETING at $COMMIT"\n',
                env: { GREETING: "it's", COMMIT: '${stages.checkout.tagged.outputs.commit}' },
              },
            },
            { name: 'fails', component: 'official/run-script@^1', inputs: { script: 'false\necho never' } },
          ],
        },
      ]),
    );
    expect(saved.status).toBe(201);
    const started = await call(pilotage.url, 'POST', `/api/v1/workflows/${saved.body.id}/runs`, {});
    expect(started.status).toBe(201);
    const run = await finishedRun(pilotage.url, started.body.id, 240_000);

    expect(action(run, 'checkout', 'head').outputs).toEqual({ commit: headCommit, directory: '/workspace/src' });
    expect(action(run, 'checkout', 'tagged').outputs).toEqual({ commit: tagCommit, directory: '/workspace/tagged/app' });
    expect(action(run, 'say', 'commit').outputs).toEqual({ message: `cloned ${headCommit}` });
    expect(action(run, 'script', 'check')).toMatchObject({ status: 'succeeded', outputs: { result: `it's at ${tagCommit}` } });
    expect(action(run, 'script', 'fails').status).toBe('failed');
    expect(run.status).toBe('failed');
  });
});
