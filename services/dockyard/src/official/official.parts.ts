import type { DockyardParts } from '../dockyard-parts';
import { DebianHost } from './debian-host';
import { OfficialImagesService } from './official-images.service';

/** The official components' images, built from Debian packages at start. */
export const officialParts: DockyardParts = {
  providers: [DebianHost, OfficialImagesService],
};
