import assert from "node:assert/strict";
import { httpCollector } from "./http-collector.ts";
import { describe, it } from "node:test";

import { startTelemetry } from "../../src/telemetry/start.ts";
import { withSpan } from "../../src/telemetry/span.ts";

describe("OTLP export", () => {
  it("sends spans as OTLP/HTTP protobuf, the spec's default, to the endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const collector = await httpCollector();
    try {
      const telemetry = await startTelemetry({
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_METRICS_EXPORTER: "none",
      });
      assert.equal(telemetry.mode, "otlp");
      await withSpan("process protobuf-export-probe", {}, async () => undefined);
      assert.equal(await telemetry.shutdown(), undefined); // flushes the batch
      const traces = collector.received.filter((r) => r.path === "/v1/traces");
      assert.ok(traces.length > 0, JSON.stringify(collector.received.map((r) => r.path)));
      assert.ok(traces.every((r) => r.contentType === "application/x-protobuf"));
      // Protobuf keeps strings as UTF-8, so the span's name is in the bytes; JSON would also have it, hence the type.
      assert.ok(traces.some((r) => r.body.includes("process protobuf-export-probe")));
    } finally {
      collector.close();
    }
  });

  it("is off when nothing is configured", async () => {
    const telemetry = await startTelemetry({});
    assert.equal(telemetry.mode, "off");
  });
});
