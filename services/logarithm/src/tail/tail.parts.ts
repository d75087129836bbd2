import type { LogarithmParts } from '../logarithm-parts';
import { TailController } from './tail.controller';
import { TailHub } from './tail-hub';
import { loadTailSettings, TAIL_SETTINGS } from './tail-settings';
import { TailWebSocketServer } from './tail.websocket';

/** Live tail: a run's (or task's) log as Server-Sent Events or over a WebSocket, history then live, until the run ends. */
export const tailParts: LogarithmParts = {
  controllers: [TailController],
  providers: [TailHub, TailWebSocketServer, { provide: TAIL_SETTINGS, useFactory: () => loadTailSettings(process.env) }],
};
