import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EVENT_BUS, type BusSubscription, type DeliveredMessage, type EventBus } from '@co/bus';
import { InvalidInputError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { SLUG, type IncomingLogLine, type LogLabels } from '../storage/log-line';
import { LogStore } from '../storage/log-store';
import { nanos, plainLines } from './push-lines';

/** Durable consumer names: replicas sharing one storage folder share them. */
export const TASKLOG_DURABLE = 'logarithm-tasklog';
export const LOGS_DURABLE = 'logarithm-logs';
/**
 * Messages stored in one append: every message of a fetch up to this many, parsed,
 * de-duplicated and stored as one batch, acknowledged together after its commit.
 * Bounded so that one append stays near the store's commit size (pilotage's messages
 * hold up to a few hundred lines): a larger one makes every tail wait for it.
 */
const MESSAGES_PER_APPEND = 20;
/**
 * Pullers per subject sharing one durable consumer: while one waits for its commit, the
 * others gather the next batches, so that every group commit takes several of them.
 * Lines are ordered by their timestamps and sequence numbers, not by message order.
 */
const PULLERS = 3;

/** The subject build and service logs are published on: `<prefix>.logs.<org>.<project>.<source>`. */
export function logsSubject(prefix: string, org: string, project: string, source: string): string {
  return `${prefix}.logs.${org}.${project}.${source}`;
}

interface TaskLogMessage {
  runId: string;
  workflowId?: string;
  project: string;
  lines: { task: string; attempt: number; source: string; seq: number; stream: 'stdout' | 'stderr'; time: string; text: string }[];
}

/**
 * NATS ingest. pilotage's task logs (`<prefix>.pilotage.tasklog.<run>`) and the generic
 * subject (`<prefix>.logs.<org>.<project>.<source>`, `{"lines":[{ts, labels, text}]}`)
 * are read by durable consumers; a message is acknowledged only once its lines are
 * stored durably. Task log lines carry (run, task, attempt, source, seq): a replay (a
 * redelivery, or pilotage publishing a container's log again) is stored once. Generic
 * messages may name a `key` and give each line a `position` for the same guarantee.
 */
@Injectable()
export class BusIngest implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly subscriptions: BusSubscription[] = [];

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    private readonly store: LogStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const prefix = this.runtime.config.bus.subjectPrefix;
    for (let puller = 0; puller < PULLERS; puller++) {
      this.subscriptions.push(
        await this.bus.subscribe({
          durable: TASKLOG_DURABLE,
          subject: `${prefix}.pilotage.tasklog.>`,
          handler: (message) => this.ingest([message], taskLogLines),
          batchHandler: (messages) => this.ingest(messages, taskLogLines),
          maxBatch: MESSAGES_PER_APPEND,
        }),
        await this.bus.subscribe({
          durable: LOGS_DURABLE,
          subject: `${prefix}.logs.>`,
          handler: (message) => this.ingest([message], genericLines),
          batchHandler: (messages) => this.ingest(messages, genericLines),
          maxBatch: MESSAGES_PER_APPEND,
        }),
      );
    }
  }

  /** Before the store closes: no message is taken that could not be stored. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((subscription) => subscription.stop()));
  }

  private async ingest(messages: DeliveredMessage[], parse: (message: DeliveredMessage) => IncomingLogLine[]): Promise<void> {
    const lines = messages.flatMap(parse);
    await this.store.append(lines);
  }
}

/** pilotage's task log message (services/pilotage/src/engine/task-logs.ts). */
export function taskLogLines(message: DeliveredMessage): IncomingLogLine[] {
  const data = message.data as TaskLogMessage;
  if (!data || typeof data.runId !== 'string' || typeof data.project !== 'string' || !Array.isArray(data.lines)) {
    throw new InvalidInputError('LOGS.INVALID_TASKLOG', 'A task log message carries runId, project and lines.');
  }
  // pilotage names projects `org/project`; the tenant header names the organization too.
  const slash = data.project.indexOf('/');
  const org = slash > 0 ? data.project.slice(0, slash) : (message.headers['Co-Tenant'] ?? '');
  const project = slash > 0 ? data.project.slice(slash + 1) : data.project;
  if (!SLUG.test(org) || !SLUG.test(project)) {
    throw new InvalidInputError('LOGS.INVALID_TASKLOG', `A task log message names its project as org/project (got ${JSON.stringify(data.project)}).`);
  }
  const times = new Map<string, bigint>();
  // One labels object per (task, attempt, stream, source): the store serializes each once per frame.
  const labelSets = new Map<string, LogLabels>();
  const originKeys = new Map<string, string>();
  return data.lines.map((line) => {
    let ts = times.get(line.time);
    if (ts === undefined) {
      ts = nanos(line.time, 'time');
      times.set(line.time, ts);
    }
    const labelKey = `${line.task}\u0000${line.attempt}\u0000${line.stream}\u0000${line.source}`;
    const dot = line.task.indexOf('.');
    const labels: LogLabels = labelSets.get(labelKey) ?? {
      org,
      project,
      ...(data.workflowId ? { workflow: data.workflowId } : {}),
      run: data.runId,
      task: line.task,
      ...(dot > 0 ? { stage: line.task.slice(0, dot), action: line.task.slice(dot + 1) } : {}),
      attempt: String(line.attempt),
      stream: line.stream,
      source: line.source,
    };
    labelSets.set(labelKey, labels);
    let originKey = originKeys.get(labelKey);
    if (originKey === undefined) {
      originKey = `tasklog/${data.runId}/${line.task}/${line.attempt}/${line.source}`;
      originKeys.set(labelKey, originKey);
    }
    return { ts, labels, text: line.text, origin: { key: originKey, position: line.seq } };
  });
}

/** `<prefix>.logs.<org>.<project>.<source>` with `{"lines":[{ts, labels, text, position?}], "key"?}`. */
export function genericLines(message: DeliveredMessage): IncomingLogLine[] {
  const [, , org, project, source] = message.subject.split('.');
  const data = message.data as { lines?: unknown; key?: unknown };
  if (!data || !Array.isArray(data.lines)) throw new InvalidInputError('LOGS.INVALID_PUSH', 'A log message carries {"lines":[{ts, labels, text}]}.');
  const lines = plainLines(data.lines, 'lines', { org, project, source }, source);
  if (typeof data.key !== 'string' || !data.key) return lines;
  const key = `logs/${org}/${project}/${source}/${data.key}`;
  return lines.map((line, index) => {
    const position = (data.lines as { position?: unknown }[])[index].position;
    return Number.isSafeInteger(position) ? { ...line, origin: { key, position: position as number } } : line;
  });
}
