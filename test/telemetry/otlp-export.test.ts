import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";

import { startTelemetry } from "../../src/telemetry/start.ts";
import { withSpan } from "../../src/telemetry/span.ts";

describe("OTLP export", () => {
  it("sends spans to the OTLP/HTTP endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const received: Array<{ path: string; bytes: number }> = [];
    const server = createServer((request, response) => {
      let bytes = 0;
      request.on("data", (chunk: Buffer) => (bytes += chunk.length));
      request.on("end", () => {
        received.push({ path: request.url ?? "", bytes });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    }).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const telemetry = await startTelemetry({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRICS_EXPORTER: "none",
      });
      assert.equal(telemetry.mode, "otlp");
      await withSpan("process test", {}, async () => undefined);
      await telemetry.shutdown(); // flushes the batch
      assert.ok(
        received.some((r) => r.path === "/v1/traces" && r.bytes > 0),
        JSON.stringify(received),
      );
    } finally {
      server.close();
    }
  });

  it("is off when nothing is configured", async () => {
    const telemetry = await startTelemetry({});
    assert.equal(telemetry.mode, "off");
  });
});
