import type { Logger } from 'pino';
import { SpanKind, extractTraceContext, withSpan } from '@co/telemetry';
import type { BatchHandler, BusSettings, DeliveredMessage, MessageHandler } from './event-bus';
import { deadLetterSubject } from './subjects';

export const DLQ_HEADERS = {
  subject: 'Co-Dlq-Subject',
  durable: 'Co-Dlq-Durable',
  error: 'Co-Dlq-Error',
  deliveries: 'Co-Dlq-Deliveries',
  messageId: 'Co-Dlq-Message-Id',
} as const;

export type DeliveryOutcome =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number; error: Error }
  | { kind: 'dead-letter'; error: Error };

export interface DeadLetter {
  id: string;
  subject: string;
  data: unknown;
  headers: Record<string, string>;
}

export function backoffDelay(deliveryCount: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
}

/**
 * What both adapters do with one delivery: run the handler inside a consumer span that
 * continues the publisher's trace, then decide between ack, retry after backoff, and
 * dead-lettering. A message seen more than maxDeliver times (its consumer kept crashing
 * before acknowledging) is dead-lettered without running the handler again.
 */
export async function runDelivery(
  message: DeliveredMessage,
  durable: string,
  handler: MessageHandler,
  settings: Pick<BusSettings, 'maxDeliver' | 'backoffMs' | 'maxBackoffMs'>,
): Promise<DeliveryOutcome> {
  if (message.deliveryCount > settings.maxDeliver) {
    return {
      kind: 'dead-letter',
      error: new Error(`not acknowledged after ${settings.maxDeliver} deliveries (consumer stopped while handling it)`),
    };
  }
  try {
    await withSpan(
      `${message.subject} process`,
      {
        kind: SpanKind.CONSUMER,
        parent: extractTraceContext(message.headers),
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': message.subject,
          'messaging.consumer.group.name': durable,
          'messaging.message.id': message.id,
          'messaging.delivery.count': message.deliveryCount,
        },
      },
      () => handler(message),
    );
    return { kind: 'ack' };
  } catch (caught) {
    const error = caught instanceof Error ? caught : new Error(String(caught));
    if (message.deliveryCount >= settings.maxDeliver) return { kind: 'dead-letter', error };
    return { kind: 'retry', delayMs: backoffDelay(message.deliveryCount, settings.backoffMs, settings.maxBackoffMs), error };
  }
}

/**
 * Runs a batch handler inside one consumer span: the child of the message's trace for a
 * batch of one, else linked to every message's trace. Returns the error it threw, if
 * any; the caller then falls back to handling each message alone.
 */
export async function runBatch(
  messages: DeliveredMessage[],
  durable: string,
  handler: BatchHandler,
  maxDeliver: number,
): Promise<Error | undefined> {
  // Past its delivery limit a message takes the single path, which dead-letters it.
  if (messages.some((message) => message.deliveryCount > maxDeliver)) return new Error('delivery limit reached');
  const contexts = messages.map((message) => extractTraceContext(message.headers));
  try {
    await withSpan(
      `${messages[0].subject} process`,
      {
        kind: SpanKind.CONSUMER,
        parent: messages.length === 1 ? contexts[0] : undefined,
        links: messages.length === 1 ? [] : contexts,
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': messages[0].subject,
          'messaging.consumer.group.name': durable,
          'messaging.batch.message_count': messages.length,
        },
      },
      () => handler(messages),
    );
    return undefined;
  } catch (caught) {
    return caught instanceof Error ? caught : new Error(String(caught));
  }
}

export function deadLetterFor(message: DeliveredMessage, durable: string, prefix: string, error: Error): DeadLetter {
  return {
    // One dead letter per consumer and message, even if dead-lettering is retried.
    id: `${durable}:${message.id}`,
    subject: deadLetterSubject(prefix, durable),
    data: message.data,
    headers: {
      ...message.headers,
      [DLQ_HEADERS.subject]: message.subject,
      [DLQ_HEADERS.durable]: durable,
      [DLQ_HEADERS.error]: error.message.slice(0, 1024).replace(/[\r\n]+/g, ' '),
      [DLQ_HEADERS.deliveries]: String(message.deliveryCount),
      [DLQ_HEADERS.messageId]: message.id,
    },
  };
}

export function logOutcome(logger: Logger, message: DeliveredMessage, durable: string, outcome: DeliveryOutcome): void {
  const context = { subject: message.subject, messageId: message.id, durable, deliveryCount: message.deliveryCount };
  if (outcome.kind === 'retry') {
    logger.warn({ ...context, err: outcome.error, retryInMs: outcome.delayMs }, 'message handler failed; will redeliver');
  } else if (outcome.kind === 'dead-letter') {
    logger.error({ ...context, err: outcome.error }, 'message dead-lettered');
  }
}
