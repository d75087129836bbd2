import type { Type } from '@nestjs/common';
import type { ServiceName } from '@co/common';
import type { Projection } from '@co/eventstore';
import type { EventBus } from '@co/bus';

/** What a service contributes to the shared machinery. */
export interface ServiceDefinition {
  name: ServiceName;
  /** Shown in the OpenAPI document. */
  title: string;
  description: string;
  /** The service's own Nest module: its controllers and handlers. */
  module: Type<unknown>;
  /** TypeORM entity classes of the service's read models. */
  entities?: Function[];
  /** TypeORM migration classes, run after the event store's own at start. */
  migrations?: Function[];
  /**
   * Checks the service's own variables (beyond the common ones) at start; throws a
   * ConfigError, which stops the process with one line and exit code 78.
   */
  checkConfig?: (env: NodeJS.ProcessEnv) => void;
  /**
   * URL path prefixes (`/v2/`) whose request bodies are content to keep byte for byte:
   * no JSON or YAML parsing there, whatever the Content-Type; handlers read the stream.
   */
  rawBodyPaths?: string[];
  /** The service's own gRPC API: packages and their files under `proto/`. */
  grpc?: { packages: string[]; protoFiles: string[] };
  /**
   * Read models built from the service's own events. `bus` is absent when projections
   * are only rebuilt (the rebuild command): leave out those that publish.
   */
  projections?: (context: { bus?: EventBus; subjectPrefix: string }) => Projection[];
}

/** gRPC package a service answers health checks for, besides the empty name. */
export function grpcServiceName(service: ServiceName): string {
  return `containerops.${service}.v1`;
}
