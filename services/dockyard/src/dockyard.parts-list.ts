import { accessParts } from './access/access.parts';
import { binariesParts } from './binaries/binaries.parts';
import { chartsParts } from './charts/charts.parts';
import type { DockyardParts } from './dockyard-parts';
import { gcParts } from './gc/gc.parts';
import { importsParts } from './imports/imports.parts';
import { officialParts } from './official/official.parts';
import { registryParts } from './registry/registry.parts';
import { storageParts } from './storage/storage.parts';
import { workspacesParts } from './workspaces/workspaces.parts';

/** dockyard's areas, each adding its controllers, providers, migrations and projections. */
export const DOCKYARD_PARTS: DockyardParts[] = [storageParts, accessParts, workspacesParts, registryParts, chartsParts, binariesParts, importsParts, gcParts, officialParts];
