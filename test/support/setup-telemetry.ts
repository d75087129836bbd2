// Tests run with a tracer provider, as services do when preloaded with telemetry.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTelemetry } from '@co/telemetry';

export const testSpans = new InMemorySpanExporter();
startTelemetry({ serviceName: 'containerops-test', spanExporter: testSpans, instrumentHttpClient: false });
