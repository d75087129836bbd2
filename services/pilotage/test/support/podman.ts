import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DockerEngineClient, readJsonLines } from '../../src/runtime/docker-engine.client';

/** The image task containers run in the tests: static busybox, PATH=/bin. */
export const BUSYBOX_IMAGE = 'localhost/co-busybox:1';
const BUSYBOX_BINARY = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'grep', 'env', 'ls', 'true', 'false', 'printf', 'kill', 'head', 'tr', 'seq', 'pwd'];

/** The real Podman's Docker-compatible socket (CO_TEST_PODMAN_SOCKET overrides). */
export function podmanSocket(): string {
  return process.env.CO_TEST_PODMAN_SOCKET ?? '/run/co-podman.sock';
}

export function podmanEngine(): DockerEngineClient {
  return new DockerEngineClient({ socketPath: podmanSocket() });
}

const ensured = new Map<string, Promise<void>>();

/** Imports the busybox image (a root with /bin/busybox and its links) unless it is there. */
export function ensureBusyboxImage(image = BUSYBOX_IMAGE): Promise<void> {
  let importing = ensured.get(image);
  if (!importing) {
    importing = importBusybox(image);
    ensured.set(image, importing);
  }
  return importing;
}

async function importBusybox(image: string): Promise<void> {
  const engine = podmanEngine();
  const { status } = await engine.call('GET', `/images/${image}/json`, { allow: [404] });
  if (status !== 404) return;
  const root = mkdtempSync(path.join(tmpdir(), 'co-busybox-'));
  try {
    mkdirSync(path.join(root, 'bin'));
    copyFileSync(BUSYBOX_BINARY, path.join(root, 'bin/busybox'));
    chmodSync(path.join(root, 'bin/busybox'), 0o755);
    for (const applet of APPLETS) symlinkSync('busybox', path.join(root, 'bin', applet));
    // Podman 4.3's compatible import ignores `tag`; a tag inside `repo` works there and in Docker.
    const response = await engine.stream('POST', '/images/create', {
      query: { fromSrc: '-', repo: image, changes: 'ENV PATH=/bin' },
      body: tarOf(root),
      headers: { 'Content-Type': 'application/x-tar' },
    });
    for await (const message of readJsonLines<{ error?: string }>(response)) {
      if (message.error) throw new Error(`importing ${image} failed: ${message.error}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function removeImage(image: string): Promise<void> {
  await podmanEngine().call('DELETE', `/images/${image}`, { query: { force: true }, allow: [404] });
}

function tarOf(directory: string): Buffer {
  return execFileSync('tar', ['-C', directory, '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '.'], { maxBuffer: 256 * 1024 * 1024 });
}

export interface TestRegistry {
  /** Podman's registries.conf here marks this host insecure (plain HTTP). */
  readonly host: string;
  /** Serves a one-file image as `repository:tag`; answers its manifest digest. */
  addImage(repository: string, tag: string): string;
  close(): Promise<void>;
}

const REGISTRY_HOST = '127.0.0.1';
const REGISTRY_PORT = 5000;
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/** A minimal registry (Docker Registry HTTP API v2, pull only), optionally behind Basic auth. */
export async function startTestRegistry(credentials?: { username: string; password: string }): Promise<TestRegistry> {
  const manifests = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  const expectedAuthorization = credentials && `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

  const server = createServer((request, response) => {
    if (expectedAuthorization && request.headers.authorization !== expectedAuthorization) {
      return answer(response, 401, registryError('UNAUTHORIZED', 'authentication required'), { 'WWW-Authenticate': 'Basic realm="co-test"' });
    }
    if (request.url === '/v2/') return answer(response, 200, Buffer.from('{}'));
    const [, repository, kind, reference] = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(request.url ?? '') ?? [];
    if (kind === 'manifests') {
      const manifest = manifests.get(`${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`);
      if (!manifest) return answer(response, 404, registryError('MANIFEST_UNKNOWN', 'manifest unknown'));
      return answer(response, 200, manifest, { 'Content-Type': MANIFEST_TYPE, 'Docker-Content-Digest': digestOf(manifest) });
    }
    const blob = kind === 'blobs' ? blobs.get(reference) : undefined;
    if (!blob) return answer(response, 404, registryError('BLOB_UNKNOWN', 'blob unknown'));
    return answer(response, 200, blob, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': reference });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`the test registry needs ${REGISTRY_HOST}:${REGISTRY_PORT}: ${error.message}`)));
    server.listen(REGISTRY_PORT, REGISTRY_HOST, resolve);
  });

  const store = (content: Buffer) => {
    const digest = digestOf(content);
    blobs.set(digest, content);
    return { digest, size: content.length };
  };
  return {
    host: `${REGISTRY_HOST}:${REGISTRY_PORT}`,
    addImage(repository, tag) {
      const root = mkdtempSync(path.join(tmpdir(), 'co-layer-'));
      let layer: Buffer;
      try {
        writeFileSync(path.join(root, 'hello.txt'), `${repository}:${tag}\n`);
        layer = tarOf(root);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
      const architecture = process.arch === 'x64' ? 'amd64' : process.arch;
      const config = Buffer.from(
        JSON.stringify({ architecture, os: 'linux', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }),
      );
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MANIFEST_TYPE,
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...store(config) },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...store(gzipSync(layer)) }],
        }),
      );
      const digest = digestOf(manifest);
      manifests.set(`${repository}:${tag}`, manifest);
      manifests.set(`${repository}@${digest}`, manifest);
      return digest;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // Podman keeps idle connections to registries open
      }),
  };
}

function answer(response: ServerResponse, status: number, body: Buffer, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Docker-Distribution-API-Version': 'registry/2.0',
    ...headers,
    'Content-Length': String(body.length),
  });
  response.end(body);
}

function registryError(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ errors: [{ code, message, detail: {} }] }));
}

function digestOf(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}
