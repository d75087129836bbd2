import type { DockyardParts } from '../dockyard-parts';
import { DOCKYARD_SETTINGS, type DockyardSettings } from '../dockyard-settings';
import { BLOB_STORE } from './blob-store';
import { FilesystemBlobStore } from './filesystem.blob-store';

export const storageParts: DockyardParts = {
  providers: [
    {
      provide: BLOB_STORE,
      inject: [DOCKYARD_SETTINGS],
      useFactory: async (settings: DockyardSettings) => {
        const store = new FilesystemBlobStore(settings.storageDir);
        await store.initialize();
        return store;
      },
    },
  ],
};
