import type { Provider, Type } from '@nestjs/common';
import type { Projection } from '@co/eventstore';
import type { EventBus } from '@co/bus';

/** What one area of crew (tenancy, tokens, audit, quotas) adds to the service. */
export interface CrewParts {
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** TypeORM migration classes, each with its own timestamp. */
  migrations?: Function[];
  projections?: (context: { bus?: EventBus; subjectPrefix: string }) => Projection[];
}
