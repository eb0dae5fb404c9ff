import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface HealthReport {
  /** 200 when true. */
  readonly ok: boolean;
  readonly body: Record<string, unknown>;
}

/**
 * `/healthz` (the process is alive and not failed) and `/readyz` (receiving, preflight done) as JSON, for
 * Container Apps and App Service probes. Nothing here reveals tokens or connection strings.
 */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  liveness: () => HealthReport;
  readiness: () => HealthReport;
}): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const report =
      path === "/healthz" ? options.liveness() : path === "/readyz" ? options.readiness() : undefined;
    if (!report) {
      response
        .writeHead(404, { "content-type": "application/json" })
        .end('{"error":"not found; try /healthz or /readyz"}');
      return;
    }
    response
      .writeHead(report.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify(report.body));
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
