import type { Provider, Type } from '@nestjs/common';
import type { EventBus } from '@co/bus';
import type { Projection } from '@co/eventstore';

/** What one area of logarithm (storage, ingest, query, tail, masking, runs, retention) adds to the service. */
export interface LogarithmParts {
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** TypeORM migration classes, each with its own timestamp. */
  migrations?: Function[];
  projections?: (context: { bus?: EventBus; subjectPrefix: string }) => Projection[];
}
