import type { Type } from '@nestjs/common';
import type { ServiceName } from '@co/common';
import type { Projection } from '@co/eventstore';

/** What a service contributes to the shared machinery. */
export interface ServiceDefinition {
  name: ServiceName;
  /** Shown in the OpenAPI document. */
  title: string;
  description: string;
  /** The service's own Nest module: its controllers and handlers. */
  module: Type<unknown>;
  // TypeORM takes entity and migration classes.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities?: Function[];
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: Function[];
  /** Read models built from the service's own events. */
  projections?: () => Projection[];
}

/** gRPC package a service answers health checks for, besides the empty name. */
export function grpcServiceName(service: ServiceName): string {
  return `containerops.${service}.v1`;
}
