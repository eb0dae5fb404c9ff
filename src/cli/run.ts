import { stdout } from "node:process";

// config.ts, not index.ts: the public surface loads the Azure SDK, which must load after telemetry starts.
import { TUNING } from "../worker/config.ts";

const HELP = `usage: keyless run

Runs the worker from environment variables until SIGTERM/SIGINT (the first drains, a second exits at once).

required:
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE  e.g. mynamespace.servicebus.windows.net (managed identity)
    or SERVICEBUS_CONNECTION_STRING     emulators only (development mode)
  SERVICEBUS_ENTITIES                   queues or topic/subscriptions/name, comma-separated
  API_<NAME>_BASE_URL, API_<NAME>_SCOPE for each API a handler calls (scope: api://<appId>/.default)
optional:
  AZURE_CLIENT_ID                       user-assigned identity's client id (system-assigned otherwise)
  SERVICEBUS_SESSION_ENTITIES           those of SERVICEBUS_ENTITIES that require sessions (processed in order)
  API_<NAME>_CONCURRENCY, API_<NAME>_RATE_LIMIT (e.g. 10/1s)
${Object.values(TUNING)
  .map((s) => `  ${s.variable.padEnd(36)}  ${s.doc} (default ${String(s.default ?? "unset")})`)
  .join("\n")}

example:
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE=contoso.servicebus.windows.net SERVICEBUS_ENTITIES=orders \\
  API_ORDERS_BASE_URL=https://orders.contoso.com API_ORDERS_SCOPE=api://<appId>/.default keyless run
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    stdout.write(HELP);
    return 0;
  }
  // Telemetry first, so the Azure SDK and everything else load already instrumented.
  const { startTelemetry } = await import("../telemetry/start.ts");
  const telemetry = await startTelemetry(process.env);
  const { main } = await import("../worker/main.ts");
  const { handlers } = await import("../handlers/index.ts");
  try {
    return await main(handlers, process.env);
  } finally {
    // Flush what the last messages produced, within a bound: a collector that is down costs seconds, not the exit.
    const problem = await telemetry.shutdown();
    if (problem) {
      const { createLogger } = await import("../telemetry/logger.ts");
      createLogger({ level: "warn" }).warn(problem);
    }
    exitSoonIfAnythingLingers();
  }
}

/**
 * Everything is closed by now; whatever still holds the event loop (an exporter retrying a collector that is down)
 * must not keep a stopping container alive until SIGKILL. The timer itself holds nothing (unref).
 */
function exitSoonIfAnythingLingers(): void {
  setTimeout(() => process.exit(), 500).unref();
}
