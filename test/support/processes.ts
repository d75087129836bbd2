import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const REPO_ROOT = path.resolve(__dirname, '../..');
const PRELOAD = path.join(REPO_ROOT, 'dist/libs/telemetry/src/register.js');

export function compiledEntry(service: string): string {
  const entry = path.join(REPO_ROOT, `dist/services/${service}/src/main.js`);
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" first ("npm test" does)`);
  return entry;
}

export interface ServiceProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a compiled entry point the way `npm start` does: node with the telemetry preload. */
export function startProcess(service: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['-r', PRELOAD, compiledEntry(service)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

type HealthClient = grpc.Client & {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
};

/** Calls grpc.health.v1.Health/Check with a plain grpc-js client, as grpc_health_probe would. */
export async function grpcHealthCheck(address: string, service: string): Promise<string> {
  const definition = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/grpc/health/v1/health.proto'), { enums: String });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      client.check({ service }, (error, response) => (error ? reject(error) : resolve(response!.status))),
    );
  } finally {
    client.close();
  }
}
