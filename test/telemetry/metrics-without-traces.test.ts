import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";

import { metrics } from "@opentelemetry/api";

import { startTelemetry } from "../../src/telemetry/start.ts";
import { withSpan } from "../../src/telemetry/span.ts";

describe("OTEL_TRACES_EXPORTER=none", () => {
  it("turns tracing off and still exports metrics to the OTLP endpoint", async () => {
    const paths: string[] = [];
    const server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        paths.push(request.url ?? "");
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    }).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const telemetry = await startTelemetry({
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        OTEL_TRACES_EXPORTER: "none",
      });
      metrics.getMeter("test").createCounter("test.count").add(1);
      await withSpan("process test", {}, async () => undefined);
      assert.equal(await telemetry.shutdown(), undefined, "flushed"); // the metric reader's last export
      assert.deepEqual(paths, ["/v1/metrics"]);
    } finally {
      server.close();
    }
  });
});
