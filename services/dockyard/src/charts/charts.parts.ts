import type { DockyardParts } from '../dockyard-parts';
import { CreateCharts1764100200000 } from './1764100200000-create-charts.migration';
import { ArtifactAccess } from './artifact-access';
import { ChartApiController, ChartRepositoryController } from './charts.controller';
import { ChartsService } from './charts.service';
import { OciCharts } from './oci-charts';

export const chartsParts: DockyardParts = {
  controllers: [ChartRepositoryController, ChartApiController],
  providers: [ChartsService, OciCharts, ArtifactAccess],
  migrations: [CreateCharts1764100200000],
};
