import { existsSync } from 'node:fs';
import * as path from 'node:path';

export * as health from './gen/grpc/health/v1/health';
export * as pilotage from './gen/containerops/pilotage/v1/pilotage';
export * as crew from './gen/containerops/crew/v1/crew';
export * as nucleus from './gen/containerops/nucleus/v1/nucleus';
export * as logarithm from './gen/containerops/logarithm/v1/logarithm';

/** The repository's `proto/` folder, found from wherever this file was compiled to. */
export function protoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'grpc/health/v1/health.proto'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the proto/ folder above ${__dirname}`);
    dir = parent;
  }
}

export function protoFile(relative: string): string {
  return path.join(protoRoot(), relative);
}
