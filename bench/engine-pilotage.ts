/**
 * Pilotage in this process for the engine benchmark: the service as `startService`
 * builds it (Nest module, HTTP API, projections, outbox relay, engine) on a fresh
 * MariaDB database and a subject prefix of its own, with the CONTAINER_RUNTIME
 * provider replaced by the runtime the benchmark passes (the real DockerRuntime
 * wrapped for timing, or the no-op runtime). Everything else is PilotageModule's own
 * providers and controllers, copied from its metadata.
 */
import { Module, type Provider, type Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';
import type { Logger } from 'pino';
import { loadServiceConfig } from '@co/common';
import { startService, type RunningService } from '@co/service-kit';
import type { EventStore, Database } from '@co/eventstore';
import { pilotageService } from '../services/pilotage/src/pilotage.service';
import { PilotageModule } from '../services/pilotage/src/pilotage.module';
import { CONTAINER_RUNTIME, ENGINE_IDENTITY } from '../services/pilotage/src/engine/engine.tokens';
import { TaskLogStore, type TaskLogLine } from '../services/pilotage/src/engine/task-logs';
import type { ContainerRuntime } from '../services/pilotage/src/runtime/container-runtime';
import { freePort, now } from './engine-support';

/** PilotageModule with its CONTAINER_RUNTIME provider replaced by `runtime`. */
export function pilotageModuleWith(runtime: ContainerRuntime): Type<unknown> {
  const providers = (Reflect.getMetadata(MODULE_METADATA.PROVIDERS, PilotageModule) ?? []) as Provider[];
  const controllers = (Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, PilotageModule) ?? []) as Type<unknown>[];
  const imports = (Reflect.getMetadata(MODULE_METADATA.IMPORTS, PilotageModule) ?? []) as Type<unknown>[];
  const exported = (Reflect.getMetadata(MODULE_METADATA.EXPORTS, PilotageModule) ?? []) as Type<unknown>[];
  const isRuntime = (provider: Provider) => typeof provider === 'object' && provider !== null && 'provide' in provider && provider.provide === CONTAINER_RUNTIME;
  const kept = providers.filter((provider) => !isRuntime(provider));
  if (kept.length !== providers.length - 1) {
    throw new Error(`PilotageModule has ${providers.length - kept.length} CONTAINER_RUNTIME providers, expected 1: the benchmark cannot replace it`);
  }
  class EngineBenchPilotageModule {}
  Module({ imports, controllers, providers: [...kept, { provide: CONTAINER_RUNTIME, useValue: runtime }], exports: exported })(EngineBenchPilotageModule);
  return EngineBenchPilotageModule;
}

export interface BenchPilotageOptions {
  /** Database name (created by the service's migrations; dropped by the caller). */
  database: string;
  mysqlUrl: string;
  natsUrl: string;
  subjectPrefix: string;
  runtime: ContainerRuntime;
  /** Engine settings read from the environment at start (CO_PILOTAGE_*, DOCKER_HOST). */
  engineEnv: Record<string, string>;
  logger: Logger;
}

export interface BenchPilotage {
  service: RunningService;
  url: string;
  engineId: string;
  store: EventStore;
  db: Database;
  logs: TaskLogStore;
}

export async function startBenchPilotage(options: BenchPilotageOptions): Promise<BenchPilotage> {
  const httpPort = await freePort();
  const config = loadServiceConfig('pilotage', {
    CO_HTTP_HOST: '127.0.0.1',
    CO_HTTP_PORT: String(httpPort),
    CO_GRPC_PORT: String(await freePort()),
    CO_DB_URL: `${options.mysqlUrl}/${options.database}`,
    CO_NATS_URL: options.natsUrl,
    CO_SUBJECT_PREFIX: options.subjectPrefix,
    CO_LOG_LEVEL: options.logger.level,
    CO_SHUTDOWN_TIMEOUT_MS: '3000',
  });
  const engineEnv = { CO_PILOTAGE_EVENT_BASE_URL: `http://127.0.0.1:${httpPort}`, ...options.engineEnv };
  const saved = Object.fromEntries(Object.keys(engineEnv).map((key) => [key, process.env[key]]));
  Object.assign(process.env, engineEnv);
  let service: RunningService;
  try {
    service = await startService({ ...pilotageService, module: pilotageModuleWith(options.runtime) }, config, { logger: options.logger });
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const identity = service.app.get<{ engineId: string }>(ENGINE_IDENTITY);
  return {
    service,
    url: service.httpUrl,
    engineId: identity.engineId,
    store: service.runtime.store,
    db: service.runtime.db,
    logs: service.app.get(TaskLogStore),
  };
}

// ---------------------------------------------------------------------------------------
// HTTP

export interface Answer<T = any> {
  status: number;
  body: T;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export const FINAL_STATUSES = ['succeeded', 'failed', 'stopped', 'timed_out'];

export async function createWorkflow(base: string, document: unknown): Promise<string> {
  const created = await call(base, 'POST', '/api/v1/workflows', document);
  if (created.status !== 201) throw new Error(`POST /api/v1/workflows answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body.id as string;
}

export async function startRun(base: string, workflowId: string): Promise<{ id: string; number: number }> {
  const started = await call(base, 'POST', `/api/v1/workflows/${workflowId}/runs`, {});
  if (started.status !== 201) throw new Error(`POST /runs answered ${started.status}: ${JSON.stringify(started.body)}`);
  return started.body;
}

/** Polls GET /runs/{id} every `intervalMs` until the run has a final status. */
export async function pollUntilFinished(base: string, runId: string, intervalMs: number, timeoutMs: number): Promise<{ run: any; polls: number; seenAt: number }> {
  const deadline = now() + timeoutMs;
  for (let polls = 1; ; polls++) {
    const { body } = await call(base, 'GET', `/api/v1/runs/${runId}`);
    const seenAt = now();
    if (FINAL_STATUSES.includes(body?.status)) return { run: body, polls, seenAt };
    if (seenAt > deadline) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms (status ${body?.status})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------
// Workflow documents

export function workflowDocument<S>(name: string, stages: S[], spec: Record<string, unknown> = {}) {
  return { apiVersion: 'containerops.io/v1', kind: 'Workflow', metadata: { name, project: 'default/bench' }, spec: { ...spec, stages } };
}

/** `tasks` sequential actions split into sequential stages of at most 50 (the schema's limit). */
export interface StageDocument {
  name: string;
  sequencing: 'sequence' | 'parallel';
  actions: ({ name: string } & Record<string, unknown>)[];
}

export function sequentialStages(tasks: number, action: (index: number) => Record<string, unknown>): StageDocument[] {
  const stages: StageDocument[] = [];
  for (let index = 0; index < tasks; index++) {
    if (index % 50 === 0) stages.push({ name: `s${stages.length + 1}`, sequencing: 'sequence', actions: [] });
    stages[stages.length - 1].actions.push({ name: `t${String(index + 1).padStart(3, '0')}`, ...action(index) });
  }
  return stages;
}

// ---------------------------------------------------------------------------------------
// Instrumentation of the running service (bench-side wrappers of instances; the
// engine's code is not changed): appends, task log writes, database statements.

export interface AppendRecord {
  streamId: string;
  types: string[];
  data: Record<string, unknown>[];
  began: number;
  ended: number;
  failed?: boolean;
}

export interface LogWriteRecord {
  runId: string;
  task: string;
  source: string;
  lines: number;
  began: number;
  ended: number;
}

export class ServiceProbe {
  recording = false;
  readonly appends: AppendRecord[] = [];
  readonly logWrites: LogWriteRecord[] = [];
  readonly statements = new Map<string, { count: number; ms: number }>();
  transactions = { count: 0, ms: 0 };
  private readonly listeners = new Set<(record: AppendRecord) => void>();

  constructor(pilotage: BenchPilotage) {
    const store = pilotage.store;
    const append = store.append.bind(store);
    const probe = this;
    store.append = async function <T extends object>(...args: Parameters<EventStore['append']>) {
      const [streamId, , events] = args;
      const began = now();
      let failed = false;
      try {
        return (await append(...args)) as any;
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        if (probe.recording) {
          const record: AppendRecord = {
            streamId,
            types: events.map((event) => event.type),
            data: events.map((event) => event.data as Record<string, unknown>),
            began,
            ended: now(),
            ...(failed ? { failed } : {}),
          };
          probe.appends.push(record);
          for (const listener of probe.listeners) listener(record);
        }
      }
    } as EventStore['append'];

    const logs = pilotage.logs;
    const write = logs.write.bind(logs);
    logs.write = async (lines: TaskLogLine[], context) => {
      const began = now();
      try {
        await write(lines, context);
      } finally {
        if (probe.recording && lines.length > 0) {
          probe.logWrites.push({ runId: lines[0].runId, task: lines[0].task, source: lines[0].source, lines: lines.length, began, ended: now() });
        }
      }
    };

    const db = pilotage.db;
    const query = db.query.bind(db);
    db.query = async <T>(sql: string, parameters?: unknown[]): Promise<T> => {
      const began = now();
      try {
        return await query<T>(sql, parameters);
      } finally {
        if (probe.recording) probe.statement(sql, now() - began);
      }
    };
    const transaction = db.transaction.bind(db);
    db.transaction = async <T>(work: Parameters<Database['transaction']>[0]): Promise<T> => {
      const began = now();
      try {
        return (await transaction(work)) as T;
      } finally {
        if (probe.recording) {
          probe.transactions.count += 1;
          probe.transactions.ms += now() - began;
        }
      }
    };
  }

  onAppend(listener: (record: AppendRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reset(): void {
    this.appends.length = 0;
    this.logWrites.length = 0;
    this.statements.clear();
    this.transactions = { count: 0, ms: 0 };
  }

  private statement(sql: string, ms: number): void {
    const text = sql.trim().replace(/\s+/g, ' ');
    const verb = text.split(' ', 1)[0].toUpperCase();
    const table = /\b(?:FROM|INTO|UPDATE)\s+`?(\w+)/i.exec(text)?.[1] ?? '';
    const key = `${verb} ${table}`.trim();
    const entry = this.statements.get(key) ?? { count: 0, ms: 0 };
    entry.count += 1;
    entry.ms += ms;
    this.statements.set(key, entry);
  }
}
