import type { DockyardParts } from '../dockyard-parts';
import { CreateGc1764100400000 } from './1764100400000-create-gc.migration';
import { GcController } from './gc.controller';
import { GcScheduler } from './gc.scheduler';
import { GcService } from './gc.service';

/** Garbage collection of unreferenced blobs and abandoned uploads: on demand and on a schedule. */
export const gcParts: DockyardParts = {
  controllers: [GcController],
  providers: [GcService, GcScheduler],
  migrations: [CreateGc1764100400000],
};
