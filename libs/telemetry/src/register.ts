/**
 * Preloaded with `node -r` before any service code, so that the tracer provider and the
 * context manager exist before Nest and the http module are loaded. The resource's
 * service name is OTEL_SERVICE_NAME, else the service whose entry point is running
 * (`…/services/<name>/…`), else `containerops`.
 */
import { startTelemetry } from './telemetry';

const entryService = /[\\/]services[\\/]([a-z]+)[\\/]/.exec(process.argv[1] ?? '')?.[1];
const service = entryService && entryService !== 'standalone' ? `co-${entryService}` : 'containerops';

startTelemetry({
  serviceName: process.env.OTEL_SERVICE_NAME ?? service,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
});
