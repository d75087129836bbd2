import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { SpanKind, SpanStatusCode, context, extractTraceContext, trace, tracer } from '@co/telemetry';

/** Opens a server span for each gRPC call, continuing `traceparent` from the metadata. */
@Injectable()
export class GrpcTracingInterceptor implements NestInterceptor {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'rpc') return next.handle();
    const metadata = execution.switchToRpc().getContext<Metadata | undefined>();
    const carrier: Record<string, string> = {};
    for (const key of ['traceparent', 'tracestate']) {
      const value = metadata?.get?.(key)?.[0];
      if (typeof value === 'string') carrier[key] = value;
    }
    const parent = extractTraceContext(carrier);
    const name = `${execution.getClass().name}/${execution.getHandler().name}`;
    const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc' } }, parent);
    return new Observable((subscriber) =>
      context.with(trace.setSpan(parent, span), () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: Error) => {
            span.recordException(error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
            span.end();
            subscriber.error(error);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        }),
      ),
    );
  }
}
