import { Module } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { DOCKYARD_SETTINGS, loadDockyardSettings } from './dockyard-settings';
import { DOCKYARD_PARTS } from './dockyard.parts-list';

/** Dockyard: image, chart and binary repository. */
@Module({
  controllers: DOCKYARD_PARTS.flatMap((part) => part.controllers ?? []),
  providers: [
    {
      provide: DOCKYARD_SETTINGS,
      inject: [SERVICE_RUNTIME],
      useFactory: (runtime: ServiceRuntime) => loadDockyardSettings(process.env, runtime.config.dataDir),
    },
    ...DOCKYARD_PARTS.flatMap((part) => part.providers ?? []),
  ],
})
export class DockyardModule {}
