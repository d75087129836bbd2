import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EVENT_BUS, type BusSubscription, type DeliveredMessage, type EventBus } from '@co/bus';
import { InvalidInputError } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { LINE_LIMITS, parseProject, splitTask, type IncomingLogLine, type LogLabels } from '../storage/log-line';
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
    throw invalidTaskLog('A task log message carries runId, project and lines.');
  }
  // pilotage names projects `org/project`; the tenant header names the organization too.
  const place = parseProject(data.project.includes('/') ? data.project : `${message.headers['Co-Tenant'] ?? ''}/${data.project}`);
  if (!place) throw invalidTaskLog(`A task log message names its project as org/project (got ${JSON.stringify(data.project.slice(0, 200))}).`);
  if (!data.runId || data.runId.length > LINE_LIMITS.indexedLabelChars) throw invalidTaskLog(`A task log message's runId is 1 to ${LINE_LIMITS.indexedLabelChars} characters.`);
  const workflow = data.workflowId;
  if (workflow !== undefined && (typeof workflow !== 'string' || workflow.length > LINE_LIMITS.labelValueChars)) {
    throw invalidTaskLog(`A task log message's workflowId is a string of at most ${LINE_LIMITS.labelValueChars} characters.`);
  }
  const times = new Map<string, bigint>();
  // One labels object per (task, attempt, stream, source): the store serializes each once per frame.
  const labelSets = new Map<string, LogLabels>();
  const originKeys = new Map<string, string>();
  return data.lines.map((line, index) => {
    checkTaskLogLine(line, index);
    let ts = times.get(line.time);
    if (ts === undefined) {
      ts = taskLogTime(line.time, index);
      times.set(line.time, ts);
    }
    const labelKey = `${line.task}\u0000${line.attempt}\u0000${line.stream}\u0000${line.source}`;
    let labels = labelSets.get(labelKey);
    if (!labels) {
      labels = {
        ...place,
        ...(workflow ? { workflow } : {}),
        run: data.runId,
        task: line.task,
        ...splitTask(line.task),
        attempt: String(line.attempt),
        stream: line.stream,
        source: line.source,
      };
      labelSets.set(labelKey, labels);
    }
    let originKey = originKeys.get(labelKey);
    if (originKey === undefined) {
      originKey = `tasklog/${data.runId}/${line.task}/${line.attempt}/${line.source}`;
      originKeys.set(labelKey, originKey);
    }
    return { ts, labels, text: line.text, origin: { key: originKey, position: line.seq } };
  });
}

/** A line the store can take: checked here, so that one bad message fails alone, not the group commit it would join. */
function checkTaskLogLine(line: TaskLogMessage['lines'][number], index: number): void {
  const problem = (what: string) => invalidTaskLog(`Line ${index + 1} of a task log message: ${what}.`);
  if (typeof line !== 'object' || line === null) throw problem('must be an object');
  if (typeof line.text !== 'string') throw problem('text must be a string');
  if (!Number.isSafeInteger(line.seq)) throw problem('seq must be a whole number');
  if (line.stream !== 'stdout' && line.stream !== 'stderr') throw problem('stream must be stdout or stderr');
  if (!Number.isSafeInteger(line.attempt) || line.attempt < 0) throw problem('attempt must be a whole number');
  if (typeof line.task !== 'string' || !splitTask(line.task) || line.task.length > LINE_LIMITS.indexedLabelChars) {
    throw problem(`task must be <stage>.<action>, at most ${LINE_LIMITS.indexedLabelChars} characters`);
  }
  if (typeof line.source !== 'string' || !line.source || line.source.length > LINE_LIMITS.indexedLabelChars) {
    throw problem(`source must be a name of 1 to ${LINE_LIMITS.indexedLabelChars} characters`);
  }
}

function taskLogTime(value: unknown, index: number): bigint {
  try {
    return nanos(value, 'time');
  } catch {
    throw invalidTaskLog(`Line ${index + 1} of a task log message: time must be an RFC 3339 time or unix nanoseconds.`);
  }
}

function invalidTaskLog(message: string): InvalidInputError {
  return new InvalidInputError('LOGS.INVALID_TASKLOG', message);
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
