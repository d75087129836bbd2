import { Module } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { LOGARITHM_PARTS } from './logarithm.parts-list';
import { LOGARITHM_SETTINGS, loadLogarithmSettings } from './logarithm-settings';

/** Logarithm: log collection, query, live tail and download. */
@Module({
  controllers: LOGARITHM_PARTS.flatMap((part) => part.controllers ?? []),
  providers: [
    {
      provide: LOGARITHM_SETTINGS,
      inject: [SERVICE_RUNTIME],
      useFactory: (runtime: ServiceRuntime) => loadLogarithmSettings(process.env, runtime.config.dataDir),
    },
    ...LOGARITHM_PARTS.flatMap((part) => part.providers ?? []),
  ],
})
export class LogarithmModule {}
