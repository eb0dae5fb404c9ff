import { context, propagation } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import type { Logger } from "pino";

import { TimeLimitError, withinTime } from "../shared/time-limit.ts";
import { installAzureSdkSpans } from "./azure-sdk-spans.ts";
import { batchingFrom, type Exporter, exportersFrom, type OtlpProtocol } from "./exporters.ts";
import { createLogger } from "./logger.ts";
import { sayTelemetryProblems } from "./problems.ts";

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
  options: { serviceName?: string; spanProcessors?: SpanProcessor[]; logger?: Logger } = {},
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
    coreTracing,
    { AzureSdkInstrumentation },
    otlpHttpJson,
    otlpHttpProtobuf,
    otlpGrpc,
  ] = await loadTelemetrySdk();
  // Each protocol's trace and metric exporter classes (`[trace, metric]` modules).
  const otlp: Record<OtlpProtocol, typeof otlpHttpJson | typeof otlpHttpProtobuf | typeof otlpGrpc> = {
    "http/json": otlpHttpJson,
    "http/protobuf": otlpHttpProtobuf,
    grpc: otlpGrpc,
  };
  const { traces, metrics } = exporters;
  const batching = batchingFrom(env);
  const spanProcessors: SpanProcessor[] = [...extra];
  if (traces.kind === "otlp") {
    const { OTLPTraceExporter } = otlp[traces.protocol][0];
    spanProcessors.push(
      new BatchSpanProcessor({ ...batching.spans, exporter: new OTLPTraceExporter({ url: traces.url }) }),
    );
  }
  if (traces.kind === "console")
    spanProcessors.push(new BatchSpanProcessor({ ...batching.spans, exporter: new ConsoleSpanExporter() }));
  const metricReaders = [];
  if (metrics.kind === "otlp") {
    const { OTLPMetricExporter } = otlp[metrics.protocol][1];
    metricReaders.push(
      new PeriodicExportingMetricReader({
        ...batching.metrics,
        exporter: new OTLPMetricExporter({ url: metrics.url }),
      }),
    );
  }

  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? options.serviceName ?? "keyless-worker",
    spanProcessors,
    metricReaders,
    // Instrumentations that patch modules are not used: we make our own spans, and hook the Azure SDK below.
    instrumentations: [],
  });
  sdk.start();
  const destinations = [traces, metrics].flatMap((e) => (e.kind === "otlp" ? [destinationOf(e)] : []));
  const destination = destinations.length > 0 ? ` to ${[...new Set(destinations)].join(" and ")}` : "";
  // The Azure SDK's own spans. Its instrumentation patches @azure/core-tracing when it is required, which misses ESM
  // imports, and would put Microsoft's instrumenter back over ours when the SDK (CommonJS) loads later: so it is not
  // enabled, and its patch is applied here to the one instrumenter state the ESM and CommonJS builds share.
  for (const definition of new AzureSdkInstrumentation({ enabled: false }).getModuleDefinitions())
    if (definition.patch) installAzureSdkSpans(coreTracing, definition.patch);
  // After the instrumentation: its warning that @azure/core-tracing loaded first is answered by the patch above.
  sayTelemetryProblems(options.logger ?? createLogger({ level: "warn" }), destination, env);
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
    import("@azure/core-tracing"),
    import("@azure/opentelemetry-instrumentation-azure-sdk"),
    // The exporters of the three OTLP protocols: sdk-node imports them all anyway (it can build them from the
    // environment), so choosing one costs no extra load.
    Promise.all([
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/exporter-metrics-otlp-http"),
    ]),
    Promise.all([
      import("@opentelemetry/exporter-trace-otlp-proto"),
      import("@opentelemetry/exporter-metrics-otlp-proto"),
    ]),
    Promise.all([
      import("@opentelemetry/exporter-trace-otlp-grpc"),
      import("@opentelemetry/exporter-metrics-otlp-grpc"),
    ]),
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

/** "http://otel.service.k8se-apps:4317 (grpc)": a gRPC endpoint may be a bare host:port, which URL cannot parse. */
function destinationOf(exporter: Extract<Exporter, { kind: "otlp" }>): string {
  const where = URL.canParse(exporter.url) ? new URL(exporter.url).origin : exporter.url;
  return `${where} (${exporter.protocol})`;
}
