import type { Provider, Type } from '@nestjs/common';
import type { EventBus } from '@co/bus';
import type { Projection } from '@co/eventstore';

/** What one area of dockyard (workspaces, registry, charts, binaries, gc) adds to the service. */
export interface DockyardParts {
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** TypeORM migration classes, each with its own timestamp. */
  migrations?: Function[];
  projections?: (context: { bus?: EventBus; subjectPrefix: string }) => Projection[];
}
