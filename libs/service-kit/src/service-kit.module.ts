import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  ValidationPipe,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { AccessGate, AuditGuard, AuditInterceptor, AuditPublisher, AuthGuard } from '@co/auth';
import { AllExceptionsFilter } from '@co/common';
import { EVENT_BUS } from '@co/bus';
import { Checkpoints, Database, EventStore, ProjectionRunner } from '@co/eventstore';
import { GrpcTracingInterceptor } from './grpc/grpc-tracing.interceptor';
import { HealthGrpcController } from './grpc/health.grpc.controller';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { SERVICE_RUNTIME, type ServiceRuntime } from './runtime';

@Injectable()
class ServiceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  onApplicationBootstrap() {
    this.runtime.relay.start();
    this.runtime.projections.start();
  }

  /** After Nest has closed the HTTP and gRPC servers: no request can still need these. */
  async onApplicationShutdown() {
    await this.runtime.dispose();
  }
}

/**
 * Shared machinery every service imports once: the runtime's parts as providers,
 * validation, the exception filter, the auth guard (deny by default), the audit of mutating calls,
 * health, readiness, metrics and the gRPC health service.
 */
@Module({})
export class ServiceKitModule {
  static forRuntime(runtime: ServiceRuntime): DynamicModule {
    return {
      module: ServiceKitModule,
      global: true,
      controllers: [HealthController, MetricsController, HealthGrpcController],
      providers: [
        { provide: SERVICE_RUNTIME, useValue: runtime },
        { provide: Database, useValue: runtime.db },
        { provide: EventStore, useValue: runtime.store },
        { provide: Checkpoints, useValue: runtime.checkpoints },
        { provide: ProjectionRunner, useValue: runtime.projections },
        { provide: EVENT_BUS, useValue: runtime.bus },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
        },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_INTERCEPTOR, useClass: GrpcTracingInterceptor },
        {
          provide: AuditPublisher,
          useValue: new AuditPublisher(runtime.bus, {
            service: runtime.definition.name,
            subjectPrefix: runtime.config.bus.subjectPrefix,
            logger: runtime.logger.child({ component: 'audit' }),
          }),
        },
        // Global guards run in this order: the audit guard first, so that calls the auth guard refuses are audited too.
        { provide: APP_GUARD, useClass: AuditGuard },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: APP_GUARD, useClass: AuthGuard },
        AccessGate,
        ServiceLifecycle,
      ],
      exports: [SERVICE_RUNTIME, Database, EventStore, Checkpoints, ProjectionRunner, EVENT_BUS, AccessGate],
    };
  }
}
