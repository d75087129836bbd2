import type { NextFunction, Request, Response } from 'express';
import { SpanKind, SpanStatusCode, context, extractTraceContext, trace, tracer } from '@co/telemetry';

export const TRACE_ID_HEADER = 'X-Trace-Id';

/**
 * Opens the server span of every HTTP request, continuing the caller's `traceparent`,
 * and keeps it active for the whole request so that logs, events appended and calls
 * made while serving it join the same trace. The trace id is echoed in X-Trace-Id.
 */
export function tracingMiddleware(service: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const parent = extractTraceContext(req.headers);
    const span = tracer().startSpan(
      `${req.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.path, 'co.service': service },
      },
      parent,
    );
    res.setHeader(TRACE_ID_HEADER, span.spanContext().traceId);
    res.once('close', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
