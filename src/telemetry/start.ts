import { context, propagation } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";

import { TimeLimitError, withinTime } from "../shared/time-limit.ts";

export type TelemetryMode = "otlp" | "console" | "off";

export interface Telemetry {
  readonly mode: TelemetryMode;
  /**
   * Flushes and stops exporting; call it last on shutdown. Never rejects and takes at most FLUSH_TIMEOUT_MS, so an
   * unreachable collector cannot push shutdown past the platform's grace; resolves with what went wrong, if anything.
   */
  shutdown(): Promise<string | undefined>;
}

/** Drain (WORKER_SHUTDOWN_GRACE_MS, 25 s) + this stays inside Container Apps' 30 s between SIGTERM and SIGKILL. */
export const FLUSH_TIMEOUT_MS = 3_000;

type Env = Readonly<Record<string, string | undefined>>;

/** Where one signal goes. */
export type Exporter = { kind: "otlp"; url: string } | { kind: "console" } | { kind: "none" };

/**
 * What the standard OTEL_* variables ask for, per signal as the OpenTelemetry spec reads them: OTEL_TRACES_EXPORTER
 * governs spans (`console` prints them, `none` turns them off), OTEL_METRICS_EXPORTER metrics (`none` turns them
 * off); a signal's own OTLP endpoint serves that signal only. Unlike the spec's default (http://localhost:4318), a
 * signal goes nowhere until an endpoint for it is set; OTEL_SDK_DISABLED=true turns both off.
 */
export function exportersFrom(env: Env): { traces: Exporter; metrics: Exporter } {
  const none = { kind: "none" } as const;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return { traces: none, metrics: none };
  const chosen = (variable: string) => env[variable]?.trim().toLowerCase();
  const otlp = (signal: "traces" | "metrics"): Exporter => {
    const url = otlpUrl(env, signal);
    return url === undefined ? none : { kind: "otlp", url };
  };
  const tracesExporter = chosen("OTEL_TRACES_EXPORTER");
  return {
    traces:
      tracesExporter === "none" ? none : tracesExporter === "console" ? { kind: "console" } : otlp("traces"),
    metrics: chosen("OTEL_METRICS_EXPORTER") === "none" ? none : otlp("metrics"),
  };
}

/** `otlp` when either signal is exported over OTLP, `console` when spans are printed, else `off`. */
function modeOf(exporters: { traces: Exporter; metrics: Exporter }): TelemetryMode {
  if (exporters.traces.kind === "otlp" || exporters.metrics.kind === "otlp") return "otlp";
  return exporters.traces.kind === "console" ? "console" : "off";
}

/**
 * Starts OpenTelemetry (the 3.x line: api 1.10, sdk-node 0.301) before the worker loads, so the Azure SDK's own
 * spans are captured. Extra span processors (the dev view, tests) are added whatever the mode.
 */
export async function startTelemetry(
  env: Env,
  options: { serviceName?: string; spanProcessors?: SpanProcessor[] } = {},
): Promise<Telemetry> {
  const exporters = exportersFrom(env);
  const mode = modeOf(exporters);
  const extra = options.spanProcessors ?? [];
  if (mode === "off" && extra.length === 0) {
    propagateWithoutExporting();
    return { mode, shutdown: async () => undefined };
  }

  const [
    { NodeSDK },
    { BatchSpanProcessor, ConsoleSpanExporter },
    { PeriodicExportingMetricReader },
    { OTLPTraceExporter },
    { OTLPMetricExporter },
    coreTracing,
    { AzureSdkInstrumentation },
  ] = await loadTelemetrySdk();
  const { traces, metrics } = exporters;
  const spanProcessors: SpanProcessor[] = [...extra];
  if (traces.kind === "otlp") {
    spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: traces.url }) }));
  }
  if (traces.kind === "console")
    spanProcessors.push(new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  const metricReaders =
    metrics.kind === "otlp"
      ? [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: metrics.url }) })]
      : [];

  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? options.serviceName ?? "keyless-worker",
    spanProcessors,
    metricReaders,
    // Instrumentations that patch modules are not used: we make our own spans, and hook the Azure SDK below.
    instrumentations: [],
  });
  sdk.start();
  // The Azure SDK's own spans. Its instrumentation patches @azure/core-tracing when it is required, which misses ESM
  // imports; applying the same patch to the ESM module we (and the SDK) import works for both.
  for (const definition of new AzureSdkInstrumentation().getModuleDefinitions())
    definition.patch?.(coreTracing);
  const origins = [traces, metrics].flatMap((e) => (e.kind === "otlp" ? [new URL(e.url).origin] : []));
  const destination = origins.length > 0 ? ` to ${[...new Set(origins)].join(" and ")}` : "";
  return {
    mode,
    shutdown: async () => {
      try {
        await withinTime(sdk.shutdown(), FLUSH_TIMEOUT_MS, "telemetry flush");
        return undefined;
      } catch (error) {
        const why =
          error instanceof TimeLimitError
            ? `it did not finish within ${FLUSH_TIMEOUT_MS} ms`
            : ((error as Error).message ?? String(error));
        return `telemetry not flushed${destination}: ${why}; the last spans and metrics are lost`;
      }
    },
  };
}

/**
 * The OpenTelemetry SDK and its exporters, loaded only when something is recorded: they are ~40 MB of a worker's
 * memory. Also what the worker image loads at build time to fill its compile cache (bin/fill-compile-cache.ts).
 */
export function loadTelemetrySdk() {
  return Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/sdk-metrics"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/exporter-metrics-otlp-http"),
    import("@azure/core-tracing"),
    import("@azure/opentelemetry-instrumentation-azure-sdk"),
  ]);
}

/**
 * Exporting is optional; passing the trace context on is not. With no SDK the API's no-op tracer still hands a
 * message's producer context to its child spans, so with W3C propagation and an async context manager registered the
 * producer's `traceparent` reaches the API (and the API's own traces join the producer's), at no recording cost.
 */
function propagateWithoutExporting(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
}

/** The signal's OTLP/HTTP URL from the given environment (the exporters would read process.env themselves). */
function otlpUrl(env: Env, signal: "traces" | "metrics"): string | undefined {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim();
  if (specific) return specific;
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return general ? `${general.replace(/\/+$/, "")}/v1/${signal}` : undefined;
}
