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
 * turns both off. A signal whose protocol is not one of OTLP_PROTOCOLS is not exported: `otlpProblems` names the
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

/** Each OTLP protocol variable set to something no exporter speaks, with the values that work. */
export function otlpProblems(env: Env): string[] {
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
