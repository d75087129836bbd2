import { ConflictError, InvalidInputError } from '@co/common';

export const EventStoreErrorCodes = {
  CONCURRENCY_CONFLICT: 'EVENTSTORE.CONCURRENCY_CONFLICT',
  DUPLICATE_EVENT: 'EVENTSTORE.DUPLICATE_EVENT',
  INVALID_EVENT: 'EVENTSTORE.INVALID_EVENT',
} as const;

/** The stream moved on since the caller read it: reload and decide again. */
export class ConcurrencyConflictError extends ConflictError {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number | string,
    readonly actualVersion: number,
  ) {
    super(
      EventStoreErrorCodes.CONCURRENCY_CONFLICT,
      expectedVersion === 'no-stream'
        ? `Stream ${streamId} already exists (version ${actualVersion}); it was created concurrently: reload it and retry.`
        : `Stream ${streamId} is at version ${actualVersion}, not ${expectedVersion}: it was changed concurrently; reload it and retry.`,
      { streamId, expectedVersion, actualVersion },
    );
  }
}

export class DuplicateEventError extends ConflictError {
  constructor(readonly eventId: string) {
    super(EventStoreErrorCodes.DUPLICATE_EVENT, `An event with id ${eventId} was already appended.`, { eventId });
  }
}

export class InvalidEventError extends InvalidInputError {
  constructor(message: string) {
    super(EventStoreErrorCodes.INVALID_EVENT, message);
  }
}
