import { ComponentAccess } from './component-access';
import { CreateComponents1764200000000 } from './1764200000000-create-components.migration';
import { ComponentsController } from './components.controller';
import { ComponentsGrpcController } from './components.grpc.controller';
import { ComponentsProjection } from './components.projection';
import { ComponentsService } from './components.service';
import { DockyardImages } from './dockyard-images';

/** The component registry: manifests, versions, images pinned by digest. */
export const componentsParts = {
  controllers: [ComponentsController, ComponentsGrpcController],
  providers: [ComponentsService, ComponentAccess, DockyardImages],
  migrations: [CreateComponents1764200000000],
  projections: () => [new ComponentsProjection()],
};
