import { wholeNumberSetting } from '@co/common';

/** Live tail limits and timings, read once at start from `CO_LOGARITHM_TAIL_*`. */
export interface TailSettings {
  /** After a run's end, the stream waits this long without a new line of the run before it sends `end`. */
  endGraceMs: number;
  /** Live tails (SSE and WebSocket together) one process serves at once; more answer 503. */
  maxStreams: number;
  /** A client that leaves more lines than this unread is dropped with an error. */
  maxQueuedLines: number;
  /** ... or more bytes than this. */
  maxQueuedBytes: number;
  /** Seconds between heartbeats (SSE comment, WebSocket ping). */
  heartbeatSeconds: number;
}

export const TAIL_SETTINGS = Symbol('TAIL_SETTINGS');

export const TAIL_ENV_KEYS = [
  'CO_LOGARITHM_TAIL_END_GRACE_MS',
  'CO_LOGARITHM_TAIL_MAX_STREAMS',
  'CO_LOGARITHM_TAIL_MAX_QUEUED_LINES',
  'CO_LOGARITHM_TAIL_MAX_QUEUED_BYTES',
  'CO_LOGARITHM_TAIL_HEARTBEAT_SECONDS',
] as const;

const MiB = 1024 * 1024;

export const TAIL_DEFAULTS: TailSettings = {
  endGraceMs: 3000,
  maxStreams: 1000,
  maxQueuedLines: 5000,
  maxQueuedBytes: 16 * MiB,
  heartbeatSeconds: 15,
};

export function loadTailSettings(env: NodeJS.ProcessEnv): TailSettings {
  return {
    endGraceMs: wholeNumberSetting(env, 'CO_LOGARITHM_TAIL_END_GRACE_MS', TAIL_DEFAULTS.endGraceMs, 0, 600_000),
    maxStreams: wholeNumberSetting(env, 'CO_LOGARITHM_TAIL_MAX_STREAMS', TAIL_DEFAULTS.maxStreams, 1, 100_000),
    maxQueuedLines: wholeNumberSetting(env, 'CO_LOGARITHM_TAIL_MAX_QUEUED_LINES', TAIL_DEFAULTS.maxQueuedLines, 10, 1_000_000),
    maxQueuedBytes: wholeNumberSetting(env, 'CO_LOGARITHM_TAIL_MAX_QUEUED_BYTES', TAIL_DEFAULTS.maxQueuedBytes, 64 * 1024, 1024 * MiB),
    heartbeatSeconds: wholeNumberSetting(env, 'CO_LOGARITHM_TAIL_HEARTBEAT_SECONDS', TAIL_DEFAULTS.heartbeatSeconds, 1, 3600),
  };
}

