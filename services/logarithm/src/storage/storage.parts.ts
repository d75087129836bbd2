import type { BeforeApplicationShutdown, Provider } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import type { LogarithmParts } from '../logarithm-parts';
import { LOGARITHM_SETTINGS, type LogarithmSettings } from '../logarithm-settings';
import { LogMasker } from '../masking/log-masker';
import { CreateLogStorage1764300000001 } from './1764300000001-create-log-storage.migration';
import { LogStore } from './log-store';

/** Finishes the commits under way when the service stops: after the consumers stopped, before the database closes. */
class ClosingLogStore extends LogStore implements BeforeApplicationShutdown {
  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }
}

const logStoreProvider: Provider = {
  provide: LogStore,
  inject: [SERVICE_RUNTIME, LOGARITHM_SETTINGS, LogMasker],
  useFactory: async (runtime: ServiceRuntime, settings: LogarithmSettings, masker: LogMasker) => {
    const store = new ClosingLogStore(runtime.db, settings, masker, runtime.logger.child({ component: 'log-store' }));
    await store.initialize();
    runtime.metrics.observedCounter('co_logarithm_lines_stored_total', 'Log lines stored.', () => store.stats.lines);
    runtime.metrics.observedCounter('co_logarithm_bytes_stored_total', 'Compressed bytes written to log segments.', () => store.stats.bytes);
    runtime.metrics.observedCounter('co_logarithm_commits_total', 'Group commits of the log store.', () => store.stats.commits);
    return store;
  },
};

/** The segment files and their index: every other area reads and writes lines through LogStore. */
export const storageParts: LogarithmParts = {
  providers: [logStoreProvider],
  migrations: [CreateLogStorage1764300000001],
};
