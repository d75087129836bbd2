import type { DockyardParts } from '../dockyard-parts';
import { ImportsController } from './imports.controller';
import { ImportsService } from './imports.service';

/** Image import: `docker save` and OCI archives into a workspace. */
export const importsParts: DockyardParts = {
  controllers: [ImportsController],
  providers: [ImportsService],
};
