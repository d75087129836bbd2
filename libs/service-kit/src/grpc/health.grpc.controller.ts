import { Public } from '@co/auth';
import { Controller, Inject } from '@nestjs/common';
import { distinctUntilChanged, from, interval, map, Observable, startWith, switchMap } from 'rxjs';
import { NotFoundError } from '@co/common';
import { health } from '@co/proto';
import { SERVICE_RUNTIME, type ServiceRuntime } from '../runtime';
import { grpcServiceName } from '../service-definition';

const { HealthCheckResponse_ServingStatus: ServingStatus } = health;
const WATCH_INTERVAL_MS = 5000;

/** grpc.health.v1.Health: "" is the whole server; `containerops.<service>.v1` the service. */
@Public()
@Controller()
@health.HealthControllerMethods()
export class HealthGrpcController implements health.HealthController {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  async check(request: health.HealthCheckRequest): Promise<health.HealthCheckResponse> {
    if (!this.knows(request.service)) {
      throw new NotFoundError('GRPC.SERVICE_UNKNOWN', `This server does not serve "${request.service}".`);
    }
    return { status: await this.status() };
  }

  watch(request: health.HealthCheckRequest): Observable<health.HealthCheckResponse> {
    if (!this.knows(request.service)) {
      return from([{ status: ServingStatus.SERVICE_UNKNOWN }]);
    }
    return interval(WATCH_INTERVAL_MS).pipe(
      startWith(0),
      switchMap(() => this.status()),
      distinctUntilChanged(),
      map((status) => ({ status })),
    );
  }

  private knows(service: string): boolean {
    const name = this.runtime.definition.name;
    return service === '' || service === grpcServiceName(name) || service === name;
  }

  private async status(): Promise<health.HealthCheckResponse_ServingStatus> {
    const report = await this.runtime.readiness.check();
    return report.ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }
}
