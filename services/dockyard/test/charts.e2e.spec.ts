import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { parse } from 'yaml';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

const run = promisify(execFile);

interface CurlAnswer {
  status: number;
  headers: string;
  body: string;
}

/** curl as a chart client runs it; `-u` credentials are `user:API token`. */
async function curl(args: string[], output?: string): Promise<CurlAnswer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'co-curl-'));
  try {
    const headers = path.join(dir, 'headers');
    const body = output ?? path.join(dir, 'body');
    const { stdout } = await run('curl', ['-sS', '-D', headers, '-o', body, '-w', '%{http_code}', ...args], { maxBuffer: 1 << 20 });
    return { status: Number(stdout.trim()), headers: readFileSync(headers, 'utf8'), body: output ? '' : readFileSync(body, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Packages a chart folder with the tar command, as `helm package` lays it out. */
async function packageChart(work: string, name: string, version: string, extra: { description?: string; bigFile?: number } = {}): Promise<string> {
  const folder = path.join(work, `${name}-${version}-src`, name);
  mkdirSync(path.join(folder, 'templates'), { recursive: true });
  writeFileSync(
    path.join(folder, 'Chart.yaml'),
    [
      'apiVersion: v2',
      `name: ${name}`,
      `version: ${version}`,
      'appVersion: "1.16"',
      `description: ${extra.description ?? 'A chart for the tests'}`,
      'type: application',
      'keywords: [web, demo]',
      'maintainers:',
      '  - name: Alice',
      '    email: alice@example.com',
      'home: https://example.com',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(folder, 'values.yaml'), 'replicas: 1\n');
  writeFileSync(path.join(folder, 'templates', 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n');
  if (extra.bigFile) writeFileSync(path.join(folder, 'blob.bin'), randomBytes(extra.bigFile));
  const file = path.join(work, `${name}-${version}.tgz`);
  await run('tar', ['-C', path.dirname(folder), '-czf', file, name]);
  return file;
}

async function hostileTgz(entries: { name: string; body: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name }, entry.body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

describe('dockyard chart repositories', () => {
  let dockyard: TestDockyard;
  let work: string;
  let alice: TestUser; // project-admin of acme/web
  let victor: TestUser; // viewer of acme/web
  let mallory: TestUser; // org-admin of globex
  const keys: Record<string, string> = {};
  const MAX_CHART_BYTES = 64 * 1024;

  const as = (user: TestUser) => ['-u', `${user.username}:${keys[user.username]}`];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'co-charts-'));
    dockyard = await startDockyard({ CO_DOCKYARD_MAX_CHART_BYTES: String(MAX_CHART_BYTES) });
    alice = await dockyard.createUser('alice');
    victor = await dockyard.createUser('victor');
    mallory = await dockyard.createUser('mallory');
    await dockyard.addMember('acme/web', 'alice', 'project-admin');
    await dockyard.addMember('acme/web', 'victor', 'viewer');
    await dockyard.ensureProject('globex/ops');
    await dockyard.addMember('globex', 'mallory', 'org-admin');
    for (const user of [alice, victor, mallory]) {
      const response = await fetch(`${dockyard.crew.url}/api/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'charts' }),
      });
      if (response.status !== 201) throw new Error(`API token for ${user.username}: ${response.status} ${await response.text()}`);
      keys[user.username] = ((await response.json()) as { token: string }).token;
    }
    await dockyard.createWorkspace('acme-charts', { org: 'acme', project: 'web', visibility: 'private', token: alice.token });
    await dockyard.createWorkspace('acme-public', { org: 'acme', project: 'web', visibility: 'public', token: alice.token });
  }, 180_000);

  afterAll(async () => {
    await dockyard?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('takes a package as the raw body and as multipart with its provenance file, and lists both in index.yaml', async () => {
    const first = await packageChart(work, 'demo', '0.1.0');
    const raw = await curl([...as(alice), '--data-binary', `@${first}`, '-H', 'Content-Type: application/gzip', `${dockyard.url}/api/acme-charts/charts`]);
    expect(raw.status).toBe(201);
    expect(JSON.parse(raw.body)).toMatchObject({ saved: true, name: 'demo', version: '0.1.0' });

    const second = await packageChart(work, 'demo', '0.2.0-rc.1');
    const third = await packageChart(work, 'demo', '0.10.0');
    const prov = path.join(work, 'demo-0.10.0.tgz.prov');
    writeFileSync(prov, '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: demo\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n');
    expect((await curl([...as(alice), '-F', `chart=@${second}`, `${dockyard.url}/api/acme-charts/charts`])).status).toBe(201);
    const multipart = await curl([...as(alice), '-F', `chart=@${third}`, '-F', `prov=@${prov}`, `${dockyard.url}/api/acme-charts/charts`]);
    expect(multipart.status).toBe(201);

    const index = await curl([...as(victor), `${dockyard.url}/charts/acme-charts/index.yaml`]);
    expect(index.status).toBe(200);
    const document = parse(index.body);
    expect(document.apiVersion).toBe('v1');
    expect(Number.isNaN(Date.parse(document.generated))).toBe(false);
    expect(document.entries.demo.map((entry: any) => entry.version)).toEqual(['0.10.0', '0.2.0-rc.1', '0.1.0']);
    const newest = document.entries.demo[0];
    expect(newest).toMatchObject({
      apiVersion: 'v2',
      name: 'demo',
      version: '0.10.0',
      appVersion: '1.16',
      type: 'application',
      keywords: ['web', 'demo'],
      maintainers: [{ name: 'Alice', email: 'alice@example.com' }],
      home: 'https://example.com',
      urls: ['demo-0.10.0.tgz'],
      digest: sha256(readFileSync(third)),
    });
    expect(Number.isNaN(Date.parse(newest.created))).toBe(false);

    // Downloaded by the URL the index gives, relative to the repository: the same bytes.
    const downloaded = path.join(work, 'downloaded.tgz');
    expect((await curl([...as(victor), `${dockyard.url}/charts/acme-charts/${newest.urls[0]}`], downloaded)).status).toBe(200);
    expect(sha256(readFileSync(downloaded))).toBe(sha256(readFileSync(third)));
    const downloadedProv = path.join(work, 'downloaded.prov');
    expect((await curl([...as(victor), `${dockyard.url}/charts/acme-charts/demo-0.10.0.tgz.prov`], downloadedProv)).status).toBe(200);
    expect(readFileSync(downloadedProv)).toEqual(readFileSync(prov));
    expect((await curl([...as(victor), `${dockyard.url}/charts/acme-charts/demo-0.1.0.tgz.prov`])).status).toBe(404);

    const events = await dockyard.service.runtime.store.readStream('chart-acme-charts-demo');
    expect(events.map((event) => event.type)).toEqual(['ChartPublished', 'ChartPublished', 'ChartPublished']);
    expect(events[2].data).toEqual({
      workspace: 'acme-charts',
      org: 'acme',
      project: 'web',
      name: 'demo',
      version: '0.10.0',
      digest: `sha256:${sha256(readFileSync(third))}`,
      size: readFileSync(third).length,
      provenance: true,
      overwritten: false,
      publishedBy: 'alice',
    });
  });

  it('refuses an existing version with 409 and overwrites it with ?force', async () => {
    const again = await packageChart(work, 'demo', '0.1.0', { description: 'Rebuilt' });
    const refused = await curl([...as(alice), '--data-binary', `@${again}`, `${dockyard.url}/api/acme-charts/charts`]);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body).error.code).toBe('CHART.EXISTS');

    // As helm cm-push sends it for the repository URL <base>/charts/acme-charts.
    const forced = await curl([...as(alice), '-F', `chart=@${again}`, `${dockyard.url}/api/charts/acme-charts/charts?force`]);
    expect(forced.status).toBe(201);
    expect(JSON.parse(forced.body)).toMatchObject({ saved: true, overwritten: true });
    const version = await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts/demo/0.1.0`]);
    expect(JSON.parse(version.body)).toMatchObject({ description: 'Rebuilt', digest: sha256(readFileSync(again)), source: 'upload' });
  });

  it('answers the ChartMuseum API: list, versions, one version, latest, HEAD and delete', async () => {
    const list = await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts`]);
    expect(list.status).toBe(200);
    expect(Object.keys(JSON.parse(list.body))).toEqual(['demo']);
    const versions = JSON.parse((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts/demo`])).body);
    expect(versions.map((entry: any) => entry.version)).toEqual(['0.10.0', '0.2.0-rc.1', '0.1.0']);
    expect(JSON.parse((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts/demo/latest`])).body).version).toBe('0.10.0');
    expect((await curl([...as(alice), '-I', `${dockyard.url}/api/acme-charts/charts/demo/0.1.0`])).status).toBe(200);
    expect((await curl([...as(alice), '-I', `${dockyard.url}/api/acme-charts/charts/demo/9.9.9`])).status).toBe(404);
    expect((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts/nothing`])).status).toBe(404);

    expect((await curl([...as(victor), '-X', 'DELETE', `${dockyard.url}/api/acme-charts/charts/demo/0.2.0-rc.1`])).status).toBe(403);
    const deleted = await curl([...as(alice), '-X', 'DELETE', `${dockyard.url}/api/acme-charts/charts/demo/0.2.0-rc.1`]);
    expect(deleted.status).toBe(200);
    expect(JSON.parse(deleted.body)).toEqual({ deleted: true });
    expect((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts/demo/0.2.0-rc.1`])).status).toBe(404);
    expect((await curl([...as(alice), `${dockyard.url}/charts/acme-charts/demo-0.2.0-rc.1.tgz`])).status).toBe(404);
    const index = parse((await curl([...as(alice), `${dockyard.url}/charts/acme-charts/index.yaml`])).body);
    expect(index.entries.demo.map((entry: any) => entry.version)).toEqual(['0.10.0', '0.1.0']);
    const events = await dockyard.service.runtime.store.readStream('chart-acme-charts-demo');
    expect(events[events.length - 1]).toMatchObject({ type: 'ChartDeleted', data: { name: 'demo', version: '0.2.0-rc.1', deletedBy: 'alice' } });
  });

  it('lets anybody pull from a public workspace and nobody pull a private one without rights', async () => {
    const chart = await packageChart(work, 'open', '1.0.0');
    expect((await curl([...as(alice), '--data-binary', `@${chart}`, `${dockyard.url}/api/acme-public/charts`])).status).toBe(201);
    const index = await curl([`${dockyard.url}/charts/acme-public/index.yaml`]);
    expect(index.status).toBe(200);
    expect(Object.keys(parse(index.body).entries)).toEqual(['open']);
    const file = path.join(work, 'open.tgz');
    expect((await curl([`${dockyard.url}/charts/acme-public/open-1.0.0.tgz`], file)).status).toBe(200);
    expect(sha256(readFileSync(file))).toBe(sha256(readFileSync(chart)));

    // Anonymous: 401 with a Basic challenge, whether the workspace exists or not.
    for (const url of [`${dockyard.url}/charts/acme-charts/index.yaml`, `${dockyard.url}/charts/no-such-ws/index.yaml`, `${dockyard.url}/api/acme-charts/charts`]) {
      const anonymous = await curl([url]);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers).toMatch(/www-authenticate: Basic realm="dockyard.test"/i);
    }
    expect((await curl(['--data-binary', `@${chart}`, `${dockyard.url}/api/acme-public/charts`])).status).toBe(401);
    expect((await curl(['-u', 'alice:not-a-token', `${dockyard.url}/charts/acme-public/index.yaml`])).status).toBe(401);
    // Another organization's private workspace does not exist for mallory; a public one refuses her push.
    const hidden = await curl([...as(mallory), `${dockyard.url}/charts/acme-charts/index.yaml`]);
    expect(hidden.status).toBe(404);
    expect(JSON.parse(hidden.body).error.code).toBe('WORKSPACE.NOT_FOUND');
    expect((await curl([...as(mallory), '--data-binary', `@${chart}`, `${dockyard.url}/api/acme-public/charts?force`])).status).toBe(403);
    expect((await curl([...as(victor), '--data-binary', `@${chart}`, `${dockyard.url}/api/acme-charts/charts`])).status).toBe(403);
  });

  it('refuses hostile and broken packages and names with 400, storing nothing', async () => {
    const before = JSON.parse((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts`])).body);
    const post = async (bytes: Buffer) => {
      const file = path.join(work, `upload-${randomBytes(4).toString('hex')}.tgz`);
      writeFileSync(file, bytes);
      return curl([...as(alice), '--data-binary', `@${file}`, `${dockyard.url}/api/acme-charts/charts`]);
    };
    const cases: [string, Buffer, RegExp, number?][] = [
      ['not a gzip', Buffer.from('this is not a chart at all'), /not gzip-compressed/],
      ['a tar with ../ entries', await hostileTgz([{ name: 'evil/Chart.yaml', body: 'apiVersion: v2\nname: evil\nversion: 1.0.0\n' }, { name: 'evil/../../../etc/passwd', body: 'x' }]), /"\.\." parts/],
      ['a tar without Chart.yaml', await hostileTgz([{ name: 'evil/values.yaml', body: 'a: 1\n' }]), /no <chart>\/Chart.yaml/],
      ['a chart name with a path', await hostileTgz([{ name: 'evil/Chart.yaml', body: 'apiVersion: v2\nname: ../../evil\nversion: 1.0.0\n' }]), /not a valid chart name/],
      ['a bad version', await hostileTgz([{ name: 'evil/Chart.yaml', body: 'apiVersion: v2\nname: evil\nversion: 1.0.0/../x\n' }]), /not a semantic version/],
      ['a package over the size limit', readFileSync(await packageChart(work, 'huge', '1.0.0', { bigFile: MAX_CHART_BYTES * 2 })), /larger than 65536 bytes/, 413],
    ];
    for (const [what, bytes, message, status = 400] of cases) {
      const answer = await post(bytes);
      expect({ what, status: answer.status }).toEqual({ what, status });
      expect(JSON.parse(answer.body).error.message).toMatch(message);
    }
    const noChart = await curl([...as(alice), '-F', 'other=@/dev/null', `${dockyard.url}/api/acme-charts/charts`]);
    expect(noChart.status).toBe(400);
    expect(JSON.parse((await curl([...as(alice), `${dockyard.url}/api/acme-charts/charts`])).body)).toEqual(before);

    // Names in the path: traversal and bad grammar answer 400, never a file.
    for (const route of [
      '/api/acme-charts/charts/..%2F..%2Fetc',
      '/api/acme-charts/charts/demo/..%2F1.0.0',
      '/api/acme-charts/charts/Demo',
      '/charts/acme-charts/..%2F..%2Fetc%2Fpasswd',
      '/charts/acme-charts/demo-0.1.0.tar',
    ]) {
      const answer = await curl([...as(alice), '--path-as-is', `${dockyard.url}${route}`]);
      expect({ route, status: answer.status }).toEqual({ route, status: 400 });
    }
  });

  it('lists a Helm OCI chart pushed through /v2 with the uploaded ones', async () => {
    const chart = readFileSync(await packageChart(work, 'ocichart', '2.1.0'));
    const config = Buffer.from(JSON.stringify({ apiVersion: 'v2', name: 'ocichart', version: '2.1.0', description: 'From OCI', type: 'application' }));
    const repository = 'acme-charts/ocichart';
    const token = await dockyard.registryToken([`repository:${repository}:pull,push`], { username: 'alice', password: alice.password });
    for (const blob of [config, chart]) {
      const digest = `sha256:${sha256(blob)}`;
      const pushed = await fetch(`${dockyard.url}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: blob,
      });
      expect(pushed.status).toBe(201);
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: `sha256:${sha256(chart)}`, size: chart.length }],
    });
    const put = await fetch(`${dockyard.url}/v2/${repository}/manifests/2.1.0`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(put.status).toBe(201);

    const index = parse((await curl([...as(victor), `${dockyard.url}/charts/acme-charts/index.yaml`])).body);
    expect(index.entries.ocichart).toEqual([
      expect.objectContaining({ name: 'ocichart', version: '2.1.0', description: 'From OCI', digest: sha256(chart), urls: ['ocichart-2.1.0.tgz'] }),
    ]);
    const listed = JSON.parse((await curl([...as(victor), `${dockyard.url}/api/acme-charts/charts/ocichart/2.1.0`])).body);
    expect(listed).toMatchObject({ source: 'oci', repository, tag: '2.1.0' });
    const file = path.join(work, 'oci.tgz');
    expect((await curl([...as(victor), `${dockyard.url}/charts/acme-charts/ocichart-2.1.0.tgz`], file)).status).toBe(200);
    expect(sha256(readFileSync(file))).toBe(sha256(chart));
    const refused = await curl([...as(alice), '-X', 'DELETE', `${dockyard.url}/api/acme-charts/charts/ocichart/2.1.0`]);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body).error.code).toBe('CHART.OCI');
  });
});
