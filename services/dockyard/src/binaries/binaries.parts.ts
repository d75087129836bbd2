import type { DockyardParts } from '../dockyard-parts';
import { ArtifactAccess } from '../charts/artifact-access';
import { CreateBinaries1764100300000 } from './1764100300000-create-binaries.migration';
import { BinariesController } from './binaries.controller';
import { BinariesService } from './binaries.service';

export const binariesParts: DockyardParts = {
  controllers: [BinariesController],
  providers: [BinariesService, ArtifactAccess],
  migrations: [CreateBinaries1764100300000],
};
