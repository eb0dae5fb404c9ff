import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import { setGlobalErrorHandler } from "@opentelemetry/core";
import type { Logger } from "pino";

/** Distinct problems kept to say each once; past this many, the rest are not said (a flood is not news). */
const MOST_PROBLEMS = 20;

/**
 * OpenTelemetry's own problems, said in the worker's log: an export that failed (a collector that is down, refuses or
 * times out) and spans it dropped (a full queue). Without this they go to OpenTelemetry's diag logger, which nobody
 * registers, so traces would go missing with nothing said. Each kind of problem is said once, at warn, with where
 * the signals were going: the first failure names the cause; a collector that stays down must not write a line per
 * batch. OTEL_LOG_LEVEL, when set, keeps OpenTelemetry's own console diag logger instead (sdk-node installs it).
 */
export function sayTelemetryProblems(
  log: Logger,
  destination: string,
  env: { OTEL_LOG_LEVEL?: string },
): void {
  const said = new Set<string>();
  const sayOnce = (text: string, message: string) => {
    // "Dropped 17 spans" and "Dropped 230 spans" are one kind of problem.
    const kind = text.replace(/\d+/g, "#").slice(0, 200);
    if (said.has(kind) || said.size >= MOST_PROBLEMS) return;
    said.add(kind);
    log.warn({ telemetryProblem: text }, message);
  };
  // Where the SDK reports a failed export (the span batch processor and the metric reader both call it).
  setGlobalErrorHandler((error) => {
    const text = describe(error);
    sayOnce(
      text,
      `telemetry export${destination} failed: ${text}; spans and metrics are dropped while it lasts (said once for this cause)`,
    );
  });
  if (env.OTEL_LOG_LEVEL?.trim()) return;
  const quiet = () => undefined;
  const warn = (message: string, ...args: unknown[]) => {
    const text = [message, ...args.map(describe)].join(" ");
    sayOnce(text, `OpenTelemetry${destination}: ${text} (said once)`);
  };
  const logger: DiagLogger = { error: warn, warn, info: quiet, debug: quiet, verbose: quiet };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

/** An exporter's error as one line: its message and, for a failed connection, the system's code. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message || error.name}${cause}${typeof code === "string" && !error.message.includes(code) ? ` (${code})` : ""}`;
  }
  return typeof error === "string" ? error : JSON.stringify(error);
}
