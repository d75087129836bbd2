import { Public } from '@co/auth';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { SERVICE_RUNTIME, type ServiceRuntime } from '../runtime';

@ApiTags('operations')
@Public()
@Controller()
export class MetricsController {
  constructor(@Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime) {}

  @Get('metrics')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format.' })
  async metrics(@Res() res: Response) {
    const registry = this.runtime.metrics.registry;
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  }
}
