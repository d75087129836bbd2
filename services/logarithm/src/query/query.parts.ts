import type { LogarithmParts } from '../logarithm-parts';
import { LogQuery } from './log-query';
import { LogsController } from './logs.controller';

/** Reading lines: by run, by task, by any filter, and whole-log downloads. */
export const queryParts: LogarithmParts = {
  controllers: [LogsController],
  providers: [LogQuery],
};
