import type { NextFunction, Request, Response } from 'express';
import { AllExceptionsFilter } from '@co/common';

/**
 * Answers body-parser failures (malformed JSON, body over the limit, bad charset) right
 * where they happen, with the same error shape as every other error. Left to Nest, a
 * JSON syntax error becomes a generic 400 carrying the parser's message.
 */
export function bodyErrorMiddleware() {
  const filter = new AllExceptionsFilter();
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const mapped = filter.map(error);
    res.status(mapped.httpStatus).json(mapped.body);
  };
}
