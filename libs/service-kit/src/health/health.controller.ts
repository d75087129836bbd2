import { Public } from '@co/auth';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { SERVICE_RUNTIME, type ServiceRuntime } from '../runtime';

@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  /** Liveness: the process serves requests. Never checks dependencies. */
  @Get('health')
  @ApiOkResponse({ description: 'The process is alive.' })
  health() {
    return { status: 'ok', service: this.runtime.definition.name };
  }

  /** Readiness: the service accepts work and its database and bus answer. */
  @Get('ready')
  @ApiOkResponse({ description: 'Ready to take work.' })
  @ApiServiceUnavailableResponse({ description: 'Starting, shutting down, or a dependency does not answer.' })
  async ready(@Res({ passthrough: true }) res: Response) {
    const report = await this.runtime.readiness.check();
    if (!report.ready) res.status(503);
    return { status: report.ready ? 'ready' : 'not ready', service: this.runtime.definition.name, ...report };
  }
}
