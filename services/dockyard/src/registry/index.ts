/** What other areas (image import, charts, GC) use of the registry. */
export { ManifestService, MEDIA_TYPES, type ImageActor, type StoredManifest } from './manifests.service';
export { RegistryMetadata } from './registry-metadata';
export { RegistryQuota } from './registry-quota';
export { RepositoriesService } from './repositories.service';
export { imageStream, type ImageDeleted, type ImagePushed } from './image.events';
export { OciError } from './oci-errors';
