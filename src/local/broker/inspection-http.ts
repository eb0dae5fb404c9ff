/** A small read-only JSON endpoint with per-entity counts, for tests, the demo summary and people. */
import http from "node:http";
import type { AddressInfo } from "node:net";

import type { BrokerStats } from "./namespace.ts";

export interface InspectionServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startInspectionHttp(
  stats: () => BrokerStats,
  port: number,
  host: string,
): Promise<InspectionServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(405, { error: "read-only endpoint: use GET" });
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname).replace(/\/+$/, "");
    if (path === "" || path === "/entities") return send(200, stats());
    if (path.startsWith("/entities/")) {
      const wanted = path.slice("/entities/".length).toLowerCase();
      const found = stats().entities.find((e) => e.name.toLowerCase() === wanted);
      return found ? send(200, found) : send(404, { error: `no entity '${wanted}'` });
    }
    return send(404, { error: "try GET / or GET /entities/<path>" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
