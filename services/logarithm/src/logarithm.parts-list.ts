import { accessParts } from './access/access.parts';
import { ingestParts } from './ingest/ingest.parts';
import type { LogarithmParts } from './logarithm-parts';
import { maskingParts } from './masking/masking.parts';
import { queryParts } from './query/query.parts';
import { retentionParts } from './retention/retention.parts';
import { runsParts } from './runs/runs.parts';
import { storageParts } from './storage/storage.parts';
import { tailParts } from './tail/tail.parts';

/** logarithm's areas, each adding its controllers, providers, migrations and projections. */
export const LOGARITHM_PARTS: LogarithmParts[] = [storageParts, maskingParts, accessParts, ingestParts, queryParts, retentionParts, runsParts, tailParts];
