import type { DockyardParts } from '../dockyard-parts';
import { CreateRegistry1764100100000 } from './1764100100000-create-registry.migration';
import { BlobsService } from './blobs.service';
import { ManifestService } from './manifests.service';
import { OciController } from './oci.controller';
import { RegistryMetadata } from './registry-metadata';
import { RegistryQuota } from './registry-quota';
import { RepositoriesController } from './repositories.controller';
import { RepositoriesService } from './repositories.service';

/** The OCI Distribution API at /v2/ and the image-management REST pages. */
export const registryParts: DockyardParts = {
  controllers: [OciController, RepositoriesController],
  providers: [RegistryMetadata, RegistryQuota, ManifestService, BlobsService, RepositoriesService],
  migrations: [CreateRegistry1764100100000],
};
