import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startService, type RunningService } from '@co/service-kit';
import { startDockyard, type Answer, type TestDockyard, type TestUser } from '../../../dockyard/test/support/dockyard';
import { withEnvironment } from '../../../../test/support/infra';
import { REPO_ROOT } from '../../../../test/support/processes';
import { testServiceConfig } from '../../../../test/support/services';
import { nucleusService } from '../../src/nucleus.service';

export type { Answer, TestUser };

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;
export type GrpcClient = grpc.Client & Record<string, Unary>;

export interface TestNucleus {
  service: RunningService;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The dockyard (and crew) it asks, sharing its subject prefix. */
  dockyard: TestDockyard;
  /** A call to nucleus' REST API as `token` (null: anonymous). A string body is sent as is, with `contentType`. */
  call<T = any>(method: string, route: string, token: string | null, body?: unknown, contentType?: string): Promise<Answer<T>>;
  /**
   * Pushes a tiny image (random config and layer) to `<workspace>/<repository>:<tag>` as
   * the platform administrator; returns its digest. Pushing again to the same tag moves it.
   */
  pushImage(repository: string, tag: string): Promise<string>;
  /** A gRPC client of containerops.nucleus.v1.ComponentService. */
  grpcClient(): GrpcClient;
  close(): Promise<void>;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * crew, dockyard and nucleus in this process against the real MariaDB and NATS, on
 * one subject prefix, with nucleus pointed at dockyard's URL and host. The official
 * components (dockyard's images, nucleus' publications) are off unless `env` and
 * `dockyardEnv` turn them on (`CO_NUCLEUS_OFFICIAL_COMPONENTS`, `CO_DOCKYARD_OFFICIAL_IMAGES`).
 */
export async function startNucleus(env: Record<string, string> = {}, dockyardEnv: Record<string, string> = {}): Promise<TestNucleus> {
  const dockyard = await startDockyard({ CO_DOCKYARD_OFFICIAL_IMAGES: 'false', ...dockyardEnv });
  let service: RunningService | undefined;
  let cleanup: () => Promise<void> = async () => undefined;
  const clients: grpc.Client[] = [];
  try {
    const configured = await testServiceConfig('nucleus', 'distributed', { CO_SUBJECT_PREFIX: dockyard.prefix });
    cleanup = configured.cleanup;
    service = await withEnvironment(
      {
        ...dockyard.crew.env,
        CO_AUTHZ_CACHE_SECONDS: '0',
        CO_NUCLEUS_DOCKYARD_URL: dockyard.url,
        CO_NUCLEUS_REGISTRY_HOSTS: dockyard.host,
        CO_NUCLEUS_OFFICIAL_COMPONENTS: 'false',
        ...env,
      },
      () => startService(nucleusService, configured.config),
    );
    const running = service;
    const url = running.httpUrl;
    const admin = dockyard.crew.admin;

    const call = async <T = any>(method: string, route: string, token: string | null, body?: unknown, contentType?: string): Promise<Answer<T>> => {
      const text = typeof body === 'string';
      const response = await fetch(`${url}${route}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': contentType ?? (text ? 'application/yaml' : 'application/json') }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : text ? (body as string) : JSON.stringify(body),
      });
      const raw = await response.text();
      let parsed: unknown = raw;
      try {
        parsed = raw ? JSON.parse(raw) : undefined;
      } catch {
        // not JSON: the text itself
      }
      return { status: response.status, headers: response.headers, body: parsed as T, text: raw };
    };

    const registry = async (method: string, route: string, token: string, body?: Buffer, contentType?: string) => {
      const response = await fetch(`${dockyard.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
        body,
        redirect: 'manual',
      });
      await response.arrayBuffer();
      return response;
    };

    const pushBlob = async (repository: string, token: string, bytes: Buffer) => {
      const started = await registry('POST', `/v2/${repository}/blobs/uploads/`, token);
      if (started.status !== 202) throw new Error(`starting a blob upload to ${repository}: dockyard answered ${started.status}`);
      const location = started.headers.get('location')!;
      const separator = location.includes('?') ? '&' : '?';
      const put = await registry('PUT', `${location}${separator}digest=${sha256(bytes)}`, token, bytes, 'application/octet-stream');
      if (put.status !== 201) throw new Error(`uploading a blob to ${repository}: dockyard answered ${put.status}`);
    };

    return {
      service: running,
      url,
      dockyard,
      call,
      async pushImage(repository, tag) {
        const token = await dockyard.registryToken([`repository:${repository}:pull,push`], { username: 'admin', password: admin.password });
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') }));
        const layer = randomBytes(64);
        await pushBlob(repository, token, config);
        await pushBlob(repository, token, layer);
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
          }),
        );
        const put = await registry('PUT', `/v2/${repository}/manifests/${tag}`, token, manifest, OCI_MANIFEST);
        if (put.status !== 201) throw new Error(`pushing ${repository}:${tag}: dockyard answered ${put.status}`);
        return sha256(manifest);
      },
      grpcClient() {
        const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/containerops/nucleus/v1/nucleus.proto'), { keepCase: false, defaults: true, oneofs: false });
        const loaded = grpc.loadPackageDefinition(definition) as any;
        const client = new loaded.containerops.nucleus.v1.ComponentService(running.grpcAddress, grpc.credentials.createInsecure()) as GrpcClient;
        clients.push(client);
        return client;
      },
      async close() {
        for (const client of clients) client.close();
        await running.close();
        await cleanup();
        await dockyard.close();
      },
    };
  } catch (error) {
    await service?.close().catch(() => undefined);
    await cleanup().catch(() => undefined);
    await dockyard.close();
    throw error;
  }
}
