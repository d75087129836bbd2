/** What a caller hands to `append`: the type names a fact in the past tense. */
export interface NewEvent<T = Record<string, unknown>> {
  type: string;
  data: T;
  /** Version of the data's shape; bump it when the shape of `type` changes. */
  schemaVersion?: number;
  /** Defaults to a new UUID; a caller may fix it to make a retried append idempotent. */
  id?: string;
}

export interface EventMetadata {
  /** Who caused the event: `user:<id>`, `token:<id>`, `system:<service>`. */
  actor?: string;
  /** Organization the event belongs to. */
  tenant?: string;
  /** W3C trace context at the time of the append. */
  traceparent?: string;
  tracestate?: string;
  /** Id of the event or command that caused this one. */
  causationId?: string;
  /** Id shared by everything one request or run caused. */
  correlationId?: string;
}

export interface RecordedEvent<T = Record<string, unknown>> {
  /** Global, gap-tolerant, strictly increasing position in this service's log. */
  position: number;
  id: string;
  streamId: string;
  /** 1 for a stream's first event. */
  streamVersion: number;
  type: string;
  schemaVersion: number;
  data: T;
  metadata: EventMetadata;
  occurredAt: Date;
}

/** Expected version of a stream before an append. */
export type ExpectedVersion = number | 'any' | 'no-stream';

/** Stream ids are `<aggregate>-<id>`; the aggregate becomes a subject token. */
export const STREAM_ID_PATTERN = /^([a-z][a-z0-9]{0,31})-([A-Za-z0-9._:@-]{1,200})$/;

export function aggregateOf(streamId: string): string {
  const match = STREAM_ID_PATTERN.exec(streamId);
  if (!match) throw new Error(`stream id "${streamId}" must look like <aggregate>-<id>, e.g. run-42`);
  return match[1];
}
