import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per service (several services can share a process in standalone mode):
 * process metrics, HTTP request metrics, and whatever the service registers.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly requestsInFlight: Gauge;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests by method, route and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.requestsInFlight = new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being served.',
      registers: [this.registry],
    });
  }

  /** A counter whose value is read at scrape time from a total kept elsewhere. */
  observedCounter(name: string, help: string, total: () => number): Counter {
    return new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(total());
      },
    });
  }

  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const stop = this.requestDuration.startTimer();
      this.requestsInFlight.inc();
      res.once('close', () => {
        this.requestsInFlight.dec();
        // Unmatched paths share one label so that scanners cannot blow up cardinality.
        const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
        stop({ method: req.method, route, status_code: String(res.statusCode) });
      });
      next();
    };
  }
}
