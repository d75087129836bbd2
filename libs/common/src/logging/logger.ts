import pino, { type Logger, type LoggerOptions } from 'pino';
import { currentTraceIds } from '@co/telemetry';

/** Keys whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-co-event-token"]',
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
];

/**
 * JSON logs, one object a line, with the active trace and span ids so that a line
 * can be joined to its trace.
 */
export function createLogger(options: { service: string; level: string }): Logger {
  const loggerOptions: LoggerOptions = {
    level: options.level,
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    mixin: () => currentTraceIds() ?? {},
  };
  return pino(loggerOptions);
}
