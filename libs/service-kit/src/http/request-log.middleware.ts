import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/** One log line per request once it is answered (probes and scrapes stay quiet). */
export function requestLogMiddleware(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (QUIET_PATHS.has(req.path)) return next();
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const fields = {
        method: req.method,
        path: req.path,
        route: (req.route as { path?: string } | undefined)?.path,
        status: res.statusCode,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        remoteAddress: req.socket?.remoteAddress,
      };
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      logger[level](fields, 'request completed');
    });
    next();
  };
}
