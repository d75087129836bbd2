import { Controller } from '@nestjs/common';
import { Public } from '@co/auth';
import { logarithm } from '@co/proto';
import { RunMasks } from './run-masks.service';

/**
 * containerops.logarithm.v1.LogMaskService: pilotage hands over the secret values of a
 * run before its first task starts. Public at the transport, like crew's AccessService:
 * its caller is the platform's engine, so logarithm's gRPC port must be reachable only
 * on the cluster network. The audit records the call (organization, project, outcome),
 * never the values.
 */
@Controller()
@Public()
@logarithm.LogMaskServiceControllerMethods()
export class LogMaskGrpcController implements logarithm.LogMaskServiceController {
  constructor(private readonly masks: RunMasks) {}

  async registerRunMasks(request: logarithm.RegisterRunMasksRequest): Promise<logarithm.RegisterRunMasksResponse> {
    const values = await this.masks.register({ org: request.org, project: request.project, run: request.run, values: request.values });
    return { values };
  }
}
