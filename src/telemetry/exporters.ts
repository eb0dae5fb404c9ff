/**
 * Where each signal goes, read from the standard OTEL_* variables as the OpenTelemetry spec reads them. Pure: it
 * loads no SDK, so the worker's configuration check can use it too (src/worker/config.ts).
 */

type Env = Readonly<Record<string, string | undefined>>;

type Signal = "traces" | "metrics";

/** The OTLP transports the spec names (OTEL_EXPORTER_OTLP_PROTOCOL); the spec's default is http/protobuf. */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json", "grpc"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** Where one signal goes. */
export type Exporter =
  { kind: "otlp"; url: string; protocol: OtlpProtocol } | { kind: "console" } | { kind: "none" };

/**
 * OTEL_TRACES_EXPORTER governs spans (`console` prints them, `none` turns them off), OTEL_METRICS_EXPORTER metrics
 * (`none` turns them off); a signal's own OTLP endpoint and protocol serve that signal only. Unlike the spec's
 * default (http://localhost:4318), a signal goes nowhere until an endpoint for it is set; OTEL_SDK_DISABLED=true
 * turns both off. A signal whose protocol is not one of OTLP_PROTOCOLS is not exported: `otelConfigProblems` names the
 * variable, and the worker refuses to start with it (exit 78) rather than export to nowhere.
 */
export function exportersFrom(env: Env): { traces: Exporter; metrics: Exporter } {
  const none = { kind: "none" } as const;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return { traces: none, metrics: none };
  const chosen = (variable: string) => env[variable]?.trim().toLowerCase();
  const otlp = (signal: Signal): Exporter => {
    const protocol = protocolOf(env, signal);
    if (!isOtlpProtocol(protocol)) return none;
    const url = otlpUrl(env, signal, protocol);
    return url === undefined ? none : { kind: "otlp", url, protocol };
  };
  const tracesExporter = chosen("OTEL_TRACES_EXPORTER");
  return {
    traces:
      tracesExporter === "none" ? none : tracesExporter === "console" ? { kind: "console" } : otlp("traces"),
    metrics: chosen("OTEL_METRICS_EXPORTER") === "none" ? none : otlp("metrics"),
  };
}

/**
 * How spans are batched and metrics pushed: OpenTelemetry's OTEL_BSP_* and OTEL_METRIC_EXPORT_* variables. The SDK
 * reads them only when it builds its processors from the environment itself, which the worker does not (it chooses
 * the exporters above), so they are read here; unset ones keep the SDK's defaults (a batch every 5 s or 512 spans,
 * a queue of 2048, metrics every 60 s).
 */
export function batchingFrom(env: Env): {
  spans: {
    scheduledDelayMillis?: number;
    exportTimeoutMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
  };
  metrics: { exportIntervalMillis?: number; exportTimeoutMillis?: number };
} {
  // A value that is not usable is left out (the SDK's default applies) and named by otelConfigProblems.
  const pick = <K extends string>(pairs: Array<[K, keyof typeof BATCHING]>) =>
    Object.fromEntries(
      pairs.flatMap(([key, variable]) => {
        const value = usableBatching(env, variable);
        return value === undefined ? [] : [[key, value]];
      }),
    ) as Partial<Record<K, number>>;
  return {
    spans: pick([
      ["scheduledDelayMillis", "OTEL_BSP_SCHEDULE_DELAY"],
      ["exportTimeoutMillis", "OTEL_BSP_EXPORT_TIMEOUT"],
      ["maxQueueSize", "OTEL_BSP_MAX_QUEUE_SIZE"],
      ["maxExportBatchSize", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"],
    ]),
    metrics: pick([
      ["exportIntervalMillis", "OTEL_METRIC_EXPORT_INTERVAL"],
      ["exportTimeoutMillis", "OTEL_METRIC_EXPORT_TIMEOUT"],
    ]),
  };
}

/** The batching variables and the least each takes (a whole number of milliseconds or spans). */
const BATCHING = {
  OTEL_BSP_SCHEDULE_DELAY: 0,
  OTEL_BSP_EXPORT_TIMEOUT: 1,
  OTEL_BSP_MAX_QUEUE_SIZE: 1,
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 1,
  OTEL_METRIC_EXPORT_INTERVAL: 1,
  OTEL_METRIC_EXPORT_TIMEOUT: 1,
} as const;

/** A batching variable's number, when it is set to a whole number of at least its least; else undefined. */
function usableBatching(env: Env, variable: keyof typeof BATCHING): number | undefined {
  const value = env[variable]?.trim();
  return value && /^\d+$/.test(value) && Number(value) >= BATCHING[variable] ? Number(value) : undefined;
}

/**
 * Each OTEL_* variable the worker reads that is set to something it cannot use, naming the values that work: an
 * OTLP protocol no exporter speaks, a batching setting that is not a whole number (or is below its least), or a
 * metric export timeout longer than the interval (the SDK would refuse to start).
 */
export function otelConfigProblems(env: Env): string[] {
  const batching = (Object.keys(BATCHING) as Array<keyof typeof BATCHING>).flatMap((variable) => {
    const set = env[variable]?.trim();
    if (!set || usableBatching(env, variable) !== undefined) return [];
    return [`${variable}: expected a whole number of at least ${BATCHING[variable]}, got "${set}"`];
  });
  const { exportIntervalMillis, exportTimeoutMillis } = batchingFrom(env).metrics;
  if (
    exportIntervalMillis !== undefined &&
    exportTimeoutMillis !== undefined &&
    exportTimeoutMillis > exportIntervalMillis
  ) {
    batching.push(
      `OTEL_METRIC_EXPORT_TIMEOUT: must not exceed OTEL_METRIC_EXPORT_INTERVAL (${exportIntervalMillis}), got ${exportTimeoutMillis}`,
    );
  }
  return [...protocolProblems(env), ...batching];
}

function protocolProblems(env: Env): string[] {
  const variables = [
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
  ];
  return variables.flatMap((variable) => {
    const value = env[variable]?.trim();
    if (!value || isOtlpProtocol(value.toLowerCase())) return [];
    return [
      `${variable}: expected one of ${OTLP_PROTOCOLS.join(", ")} (grpc for a collector on port 4317, such as the Container Apps agent), got "${value}"`,
    ];
  });
}

function isOtlpProtocol(value: string): value is OtlpProtocol {
  return (OTLP_PROTOCOLS as readonly string[]).includes(value);
}

/** A signal's own protocol variable wins over the general one; the spec's default is http/protobuf. */
function protocolOf(env: Env, signal: Signal): string {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`]?.trim().toLowerCase();
  const general = env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim().toLowerCase();
  return specific || general || "http/protobuf";
}

/**
 * The signal's OTLP URL from the given environment (the exporters would read process.env themselves). Over HTTP
 * the general endpoint gets the signal's path (/v1/traces) and a signal's own endpoint is used as given; over gRPC
 * both are used as given, since the service, not the path, names the signal.
 */
function otlpUrl(env: Env, signal: Signal, protocol: OtlpProtocol): string | undefined {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim();
  if (specific) return specific;
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!general) return undefined;
  return protocol === "grpc" ? general : `${general.replace(/\/+$/, "")}/v1/${signal}`;
}
