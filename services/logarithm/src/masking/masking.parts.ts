import type { LogarithmParts } from '../logarithm-parts';
import { CreateMasks1764300000060 } from './1764300000060-create-masks.migration';
import { LogMaskGrpcController } from './log-mask.grpc.controller';
import { LogMasker } from './log-masker';
import { loadMaskSettings, MASK_SETTINGS } from './mask-settings';
import { RunMasks } from './run-masks.service';

/** Masking: secret values of runs, registered over gRPC, replaced by `***` in every line before storage. */
export const maskingParts: LogarithmParts = {
  controllers: [LogMaskGrpcController],
  providers: [LogMasker, RunMasks, { provide: MASK_SETTINGS, useFactory: () => loadMaskSettings(process.env) }],
  migrations: [CreateMasks1764300000060],
};
