import { createHash } from 'node:crypto';
import type { EventBus } from '@co/bus';
import type { Projection, RecordedEvent } from '@co/eventstore';
import type { RunEvent } from '../runs/run.events';
import { taskKey } from '../runs/run.events';

export type ProtocolEventName = 'CO_COMPONENT_START' | 'CO_TASK_START' | 'CO_TASK_STATUS' | 'CO_TASK_RESULT' | 'CO_COMPONENT_STOP';

export function protocolSubject(prefix: string, event: ProtocolEventName): string {
  return `${prefix}.pilotage.protocol.${event}`;
}

/** A stable id per (run event, protocol event): a republished copy is de-duplicated. */
function messageId(eventId: string, name: ProtocolEventName): string {
  const hex = createHash('sha256').update(`${eventId}/${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Publishes the component protocol's events (`CO_TASK_START`, …) on NATS from the run
 * events, in log order. It runs as a projection, so its position is checkpointed and
 * a restart resumes where it stopped; a repeat after a crash carries the same message
 * id and is absorbed by the bus.
 */
export class ProtocolEventsPublisher implements Projection {
  readonly name = 'pilotage-protocol-events';

  constructor(
    private readonly bus: EventBus,
    private readonly subjectPrefix: string,
  ) {}

  /** A batch's messages are published at once (the bus keeps their order per subject). */
  async applyBatch(events: RecordedEvent[]): Promise<void> {
    await Promise.all(events.map((event) => this.apply(event)));
  }

  async apply(recorded: RecordedEvent): Promise<void> {
    if (!recorded.streamId.startsWith('run-')) return;
    const event = recorded as RecordedEvent & RunEvent;
    const runId = recorded.metadata.correlationId;
    const publish = (name: ProtocolEventName, task: { stage: string; action: string; attempt: number }, info: Record<string, unknown>) => {
      const headers: Record<string, string> = {};
      if (recorded.metadata.traceparent) headers.traceparent = recorded.metadata.traceparent;
      if (recorded.metadata.tenant) headers['Co-Tenant'] = recorded.metadata.tenant;
      const id = messageId(recorded.id, name);
      return this.bus.publish({
        id,
        subject: protocolSubject(this.subjectPrefix, name),
        headers,
        data: {
          EVENT: name,
          EVENT_ID: id,
          /** The run event this message reports. */
          SOURCE_EVENT_ID: recorded.id,
          RUN_ID: runId,
          TASK_ID: taskKey(task.stage, task.action),
          STAGE: task.stage,
          ACTION: task.action,
          ATTEMPT: task.attempt,
          TENANT: recorded.metadata.tenant,
          TIME: recorded.occurredAt.toISOString(),
          INFO: info,
        },
      });
    };
    switch (event.type) {
      case 'TaskStarted':
        await Promise.all([
          publish('CO_COMPONENT_START', event.data, { containerName: event.data.containerName }),
          publish('CO_TASK_START', event.data, { status: 'running' }),
        ]);
        break;
      case 'TaskStatusReported':
        await publish('CO_TASK_STATUS', event.data, { status: event.data.status, event: event.data.event, info: event.data.info });
        break;
      case 'TaskResultRecorded':
        await publish('CO_TASK_RESULT', event.data, { result: event.data.result !== false, output: event.data.outputs });
        break;
      case 'TaskFinished':
        await publish('CO_COMPONENT_STOP', event.data, {
          status: event.data.outcome,
          exitCode: event.data.exitCode,
          reason: event.data.reason,
        });
        break;
    }
  }

  async reset(): Promise<void> {
    // Nothing stored; not part of rebuilds (it is left out when there is no bus). A
    // republished message carries the same EVENT_ID, by which consumers de-duplicate.
  }
}
