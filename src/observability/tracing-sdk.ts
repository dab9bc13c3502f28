/**
 * The OpenTelemetry SDK, set up only when traces are switched on (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): imported lazily by the app, so a gateway without tracing never loads it.
 *
 * Spans are batched (`BatchSpanProcessor`: bounded queue, drops counted by the SDK, tuned by OpenTelemetry's own
 * `OTEL_BSP_*` variables) and exported as OTLP/HTTP JSON to the configured URL with `OTEL_EXPORTER_OTLP_HEADERS`. The
 * resource is `service.name` (`OTEL_SERVICE_NAME`), `OTEL_RESOURCE_ATTRIBUTES`, the host and the process id (with
 * `WORKERS` > 1 each worker exports its own spans, told apart by `process.pid`). The provider is also registered as
 * the process's global one (when none is yet), so custom adapters using `@opentelemetry/api` export alongside.
 */
import { trace, type TracerProvider } from '@opentelemetry/api';
import type { TracingSettings } from '../config/sections.js';

export interface TracingSdk {
  readonly provider: TracerProvider;
  /** Export what is buffered, then stop. Bounded by `timeoutMs`; never rejects. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export async function startTracingSdk(config: TracingSettings): Promise<TracingSdk> {
  const [base, { OTLPTraceExporter }, res] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const ratio = () => new base.TraceIdRatioBasedSampler(config.otelSamplerArg);
  const root = {
    always_on: () => new base.AlwaysOnSampler(),
    always_off: () => new base.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: () => new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: () => new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new base.ParentBasedSampler({ root: ratio() }),
  }[config.otelSampler]();
  const exporter = new OTLPTraceExporter({ url: config.otelTracesUrl, headers: { ...config.otelHeaders } });
  const resource = res
    .defaultResource()
    .merge(res.detectResources({ detectors: [res.envDetector, res.hostDetector, res.processDetector] }))
    .merge(res.resourceFromAttributes({ 'service.name': config.otelServiceName }));
  const provider = new base.BasicTracerProvider({ resource, sampler: root, spanProcessors: [new base.BatchSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider); // false (and a diag line) when one is already registered: ours stays in use here
  let done: Promise<void> | undefined;
  return {
    provider,
    shutdown(timeoutMs = 5000) {
      done ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        provider.shutdown().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          () => {
            clearTimeout(timer);
            resolve();
          },
        );
      });
      return done;
    },
  };
}
