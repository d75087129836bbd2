import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { RuntimeUnavailableError } from './container-runtime';

/** Where the Docker Engine API listens: a unix socket or a plain-HTTP base URL. */
export type DockerEndpoint = { socketPath: string } | { baseUrl: string };

const WELL_KNOWN_SOCKETS = ['/run/co-podman.sock', '/var/run/docker.sock', '/run/podman/podman.sock'];

/**
 * `DOCKER_HOST` when set (`unix:///path` or `tcp://host:port`, the latter spoken as
 * plain HTTP), else the first socket that exists. With none, `/var/run/docker.sock`, so
 * that ping reports the usual place as unreachable.
 */
export function resolveDockerSocket(env: NodeJS.ProcessEnv = process.env, exists: (file: string) => boolean = existsSync): DockerEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
    if (host.startsWith('tcp://') || host.startsWith('http://')) return { baseUrl: `http://${host.replace(/^\w+:\/\//, '').replace(/\/+$/, '')}` };
    throw new RuntimeUnavailableError(`DOCKER_HOST=${host} is not supported; use unix:///path/to/socket or tcp://host:port`);
  }
  const candidates = [...WELL_KNOWN_SOCKETS];
  if (env.XDG_RUNTIME_DIR) candidates.push(path.join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'));
  return { socketPath: candidates.find((socket) => exists(socket)) ?? '/var/run/docker.sock' };
}

/** The endpoint as people write it, for messages: `unix:///run/docker.sock`, `http://host:2375`. */
export function describeEndpoint(endpoint: DockerEndpoint): string {
  return 'socketPath' in endpoint ? `unix://${endpoint.socketPath}` : endpoint.baseUrl;
}
