import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startDockyard, type TestDockyard, type TestUser } from './support/dockyard';

const run = promisify(execFile);

interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** curl as a script runs it; `-u` credentials are `user:API token`. */
async function curl(args: string[], output?: string): Promise<CurlAnswer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'co-curl-'));
  try {
    const headerFile = path.join(dir, 'headers');
    const body = output ?? path.join(dir, 'body');
    const { stdout } = await run('curl', ['-sS', '-D', headerFile, '-o', body, '-w', '%{http_code}', ...args], { maxBuffer: 1 << 20 });
    const headers: Record<string, string> = {};
    for (const line of readFileSync(headerFile, 'utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(stdout.trim()), headers, body: output || !existsSync(body) ? '' : readFileSync(body, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('dockyard binary artifacts', () => {
  let dockyard: TestDockyard;
  let work: string;
  let alice: TestUser; // project-admin of acme/web
  let victor: TestUser; // viewer of acme/web
  let mallory: TestUser; // org-admin of globex
  const keys: Record<string, string> = {};
  const MAX_BINARY_BYTES = 256 * 1024;
  const as = (user: TestUser) => ['-u', `${user.username}:${keys[user.username]}`];
  const url = (route: string) => `${dockyard.url}/binary/v1/${route}`;
  const fileOf = (bytes: Buffer) => {
    const file = path.join(work, `file-${randomBytes(4).toString('hex')}`);
    writeFileSync(file, bytes);
    return file;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'co-binaries-'));
    dockyard = await startDockyard({ CO_DOCKYARD_MAX_BINARY_BYTES: String(MAX_BINARY_BYTES) });
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
        body: JSON.stringify({ name: 'binaries' }),
      });
      if (response.status !== 201) throw new Error(`API token for ${user.username}: ${response.status} ${await response.text()}`);
      keys[user.username] = ((await response.json()) as { token: string }).token;
    }
    await dockyard.createWorkspace('acme-bin', { org: 'acme', project: 'web', visibility: 'private', token: alice.token });
    await dockyard.createWorkspace('acme-open', { org: 'acme', project: 'web', visibility: 'public', token: alice.token });
  }, 180_000);

  afterAll(async () => {
    await dockyard?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('stores a file with curl -T and serves it back byte for byte, with HEAD, ranges and ETag', async () => {
    const bytes = randomBytes(100_000);
    const put = await curl([...as(alice), '-T', fileOf(bytes), url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')]);
    expect(put.status).toBe(201);
    expect(JSON.parse(put.body)).toEqual({
      workspace: 'acme-bin',
      repository: 'tools',
      tag: 'v1.0.0',
      file: 'cli-linux-amd64',
      digest: sha256(bytes),
      size: bytes.length,
      overwritten: false,
    });
    expect(put.headers['docker-content-digest']).toBe(sha256(bytes));

    const downloaded = path.join(work, 'downloaded');
    const get = await curl([...as(victor), url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')], downloaded);
    expect(get.status).toBe(200);
    expect(sha256(readFileSync(downloaded))).toBe(sha256(bytes));
    expect(get.headers).toMatchObject({ 'content-length': String(bytes.length), 'docker-content-digest': sha256(bytes), etag: `"${sha256(bytes)}"` });

    const head = await curl([...as(victor), '-I', url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')]);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(bytes.length));

    const part = path.join(work, 'part');
    const ranged = await curl([...as(victor), '-r', '100-199', url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')], part);
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 100-199/${bytes.length}`);
    expect(readFileSync(part)).toEqual(bytes.subarray(100, 200));
    expect((await curl([...as(victor), '-r', `${bytes.length}-`, url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')])).status).toBe(416);
    expect((await curl([...as(victor), '-H', `If-None-Match: "${sha256(bytes)}"`, url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')])).status).toBe(304);

    const list = await curl([...as(victor), url('acme-bin/tools/binary/v1.0.0')]);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).files).toEqual([
      expect.objectContaining({ file: 'cli-linux-amd64', digest: sha256(bytes), size: bytes.length, downloads: 1, createdBy: 'alice' }),
    ]);
    const events = await dockyard.service.runtime.store.readStream('artifact-acme-bin');
    expect(events.map((event) => event.type)).toEqual(['ArtifactUploaded']);
    expect(events[0].data).toEqual({
      workspace: 'acme-bin',
      org: 'acme',
      project: 'web',
      repository: 'tools',
      tag: 'v1.0.0',
      file: 'cli-linux-amd64',
      digest: sha256(bytes),
      size: bytes.length,
      overwritten: false,
      uploadedBy: 'alice',
    });
  });

  it('replaces an existing file, verifies a given digest and stores nothing on a wrong one', async () => {
    const replacement = randomBytes(5000);
    const again = await curl([...as(alice), '-T', fileOf(replacement), url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')]);
    expect(again.status).toBe(201);
    expect(JSON.parse(again.body)).toMatchObject({ digest: sha256(replacement), overwritten: true });
    const downloaded = path.join(work, 'replaced');
    await curl([...as(alice), url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')], downloaded);
    expect(readFileSync(downloaded)).toEqual(replacement);

    const bytes = randomBytes(3000);
    const wrong = sha256(Buffer.from('something else'));
    const refused = await curl([...as(alice), '-T', fileOf(bytes), `${url('acme-bin/tools/binary/v1.0.0/checked.bin')}?digest=${wrong}`]);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error.code).toBe('BINARY.DIGEST_MISMATCH');
    const refusedHeader = await curl([...as(alice), '-T', fileOf(bytes), '-H', `Digest: sha-256=${Buffer.from(wrong.slice(7), 'hex').toString('base64')}`, url('acme-bin/tools/binary/v1.0.0/checked.bin')]);
    expect(refusedHeader.status).toBe(400);
    expect((await curl([...as(alice), url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(404);
    expect((await dockyard.service.runtime.db.query<unknown[]>('SELECT 1 FROM dockyard_binaries WHERE file = ?', ['checked.bin'])).length).toBe(0);

    const digestHeader = `sha-256=${createHash('sha256').update(bytes).digest('base64')}`;
    expect((await curl([...as(alice), '-T', fileOf(bytes), '-H', `Digest: ${digestHeader}`, url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(201);
    expect((await curl([...as(alice), '-T', fileOf(bytes), `${url('acme-bin/tools/binary/v1.0.0/checked2.bin')}?digest=${sha256(bytes)}`])).status).toBe(201);
    expect((await curl([...as(alice), '-T', fileOf(bytes), `${url('acme-bin/tools/binary/v1.0.0/checked3.bin')}?digest=md5:abc`])).status).toBe(400);
  });

  it('refuses a file over the size limit with 413 and stores nothing', async () => {
    const big = await curl([...as(alice), '-T', fileOf(randomBytes(MAX_BINARY_BYTES + 1)), url('acme-bin/tools/binary/v1.0.0/big.bin')]);
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.code).toBe('BINARY.TOO_LARGE');
    expect((await curl([...as(alice), url('acme-bin/tools/binary/v1.0.0/big.bin')])).status).toBe(404);
  });

  it('refuses traversal and bad names in repository, tag and file with 400', async () => {
    const bytes = fileOf(Buffer.from('x'));
    for (const route of [
      'acme-bin/tools/binary/v1/..',
      'acme-bin/tools/binary/v1/%2e%2e',
      'acme-bin/tools/binary/v1/..%2F..%2Fetc%2Fpasswd',
      'acme-bin/tools/binary/v1/a%20b',
      'acme-bin/Tools/binary/v1/file',
      'acme-bin/..%2Ftools/binary/v1/file',
      'acme-bin/tools/binary/-v1/file',
      'acme-bin/tools/binary/.v1/file',
    ]) {
      const answer = await curl([...as(alice), '--path-as-is', '-X', 'PUT', '--data-binary', `@${bytes}`, `${dockyard.url}/binary/v1/${route}`]);
      expect({ route, status: answer.status, body: answer.body }).toEqual({ route, status: 400, body: expect.stringContaining('BINARY.') });
    }
  });

  it('lets anybody download from a public workspace, and checks image rights elsewhere', async () => {
    const bytes = randomBytes(1000);
    expect((await curl([...as(alice), '-T', fileOf(bytes), url('acme-open/tools/binary/latest/tool')])).status).toBe(201);
    const file = path.join(work, 'public');
    expect((await curl([url('acme-open/tools/binary/latest/tool')], file)).status).toBe(200);
    expect(readFileSync(file)).toEqual(bytes);

    for (const route of ['acme-bin/tools/binary/v1.0.0/cli-linux-amd64', 'nowhere/tools/binary/v1/x']) {
      const anonymous = await curl([url(route)]);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm="dockyard.test"/);
    }
    expect((await curl(['-T', fileOf(bytes), url('acme-open/tools/binary/latest/tool')])).status).toBe(401);
    expect((await curl([...as(victor), '-T', fileOf(bytes), url('acme-bin/tools/binary/latest/tool')])).status).toBe(403);
    const hidden = await curl([...as(mallory), url('acme-bin/tools/binary/v1.0.0/cli-linux-amd64')]);
    expect(hidden.status).toBe(404);
    expect(JSON.parse(hidden.body).error.code).toBe('WORKSPACE.NOT_FOUND');
    expect((await curl([...as(mallory), '-X', 'DELETE', url('acme-open/tools/binary/latest/tool')])).status).toBe(403);
  });

  it('deletes a file with 204 and records it', async () => {
    expect((await curl([...as(victor), '-X', 'DELETE', url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(403);
    expect((await curl([...as(alice), '-X', 'DELETE', url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(204);
    expect((await curl([...as(alice), url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(404);
    expect((await curl([...as(alice), '-X', 'DELETE', url('acme-bin/tools/binary/v1.0.0/checked.bin')])).status).toBe(404);
    const events = await dockyard.service.runtime.store.readStream('artifact-acme-bin');
    expect(events[events.length - 1]).toMatchObject({ type: 'ArtifactDeleted', data: { file: 'checked.bin', deletedBy: 'alice' } });
  });
});
