import { AzureSdkInstrumentation } from "@azure/opentelemetry-instrumentation-azure-sdk";
import { context, propagation } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace";

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

/**
 * What the standard OTEL_* variables ask for: OTLP over HTTP when an endpoint is set, the console when
 * OTEL_TRACES_EXPORTER=console, nothing otherwise (and nothing when OTEL_SDK_DISABLED=true).
 */
export function telemetryMode(env: Env): TelemetryMode {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return "off";
  if (env.OTEL_TRACES_EXPORTER?.toLowerCase() === "none") return "off";
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return "otlp";
  if (env.OTEL_TRACES_EXPORTER?.toLowerCase() === "console") return "console";
  return "off";
}

/**
 * Starts OpenTelemetry (the 3.x line: api 1.10, sdk-node 0.301) before the worker loads, so the Azure SDK's own
 * spans are captured. Extra span processors (the dev view, tests) are added whatever the mode.
 */
export async function startTelemetry(
  env: Env,
  options: { serviceName?: string; spanProcessors?: SpanProcessor[] } = {},
): Promise<Telemetry> {
  const mode = telemetryMode(env);
  const extra = options.spanProcessors ?? [];
  if (mode === "off" && extra.length === 0) {
    propagateWithoutExporting();
    return { mode, shutdown: async () => undefined };
  }

  const spanProcessors: SpanProcessor[] = [...extra];
  if (mode === "otlp") {
    spanProcessors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: otlpUrl(env, "traces") }) }),
    );
  }
  if (mode === "console")
    spanProcessors.push(new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  const metricReaders =
    mode === "otlp" && (env.OTEL_METRICS_EXPORTER ?? "otlp") !== "none"
      ? [
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: otlpUrl(env, "metrics") }),
          }),
        ]
      : [];

  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? options.serviceName ?? "keyless-worker",
    spanProcessors,
    metricReaders,
    // Instrumentations that patch modules are not used: we make our own spans, and hook the Azure SDK below.
    instrumentations: [],
  });
  sdk.start();
  await instrumentAzureSdk();
  const destination = mode === "otlp" ? ` to ${new URL(otlpUrl(env, "traces")).origin}` : "";
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
function otlpUrl(env: Env, signal: "traces" | "metrics"): string {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`];
  if (specific) return specific;
  return `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/${signal}`;
}

/**
 * Turns on the Azure SDK's own spans. Its instrumentation patches @azure/core-tracing when it is required, which
 * misses ESM imports; applying the same patch to the ESM module we (and the SDK) import works for both.
 */
async function instrumentAzureSdk(): Promise<void> {
  const coreTracing = await import("@azure/core-tracing");
  for (const definition of new AzureSdkInstrumentation().getModuleDefinitions()) {
    definition.patch?.(coreTracing);
  }
}
