import type { LogarithmParts } from '../logarithm-parts';
import { BusIngest } from './bus-ingest';
import { LogIngest } from './log-ingest';
import { PushController } from './push.controller';

/** Lines arrive over NATS (task, build and service logs) and HTTP (Loki push). */
export const ingestParts: LogarithmParts = {
  controllers: [PushController],
  providers: [LogIngest, BusIngest],
};
