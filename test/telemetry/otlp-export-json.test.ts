import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { withSpan } from "../../src/telemetry/span.ts";
import { startTelemetry } from "../../src/telemetry/start.ts";
import { httpCollector } from "./http-collector.ts";

// A file of its own: OpenTelemetry's providers are process-wide, so each exporter set gets a fresh process.
describe("OTLP export as JSON", () => {
  it("sends spans as OTLP/HTTP JSON when OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json, batched as OTEL_BSP_SCHEDULE_DELAY says", async () => {
    const collector = await httpCollector();
    try {
      const telemetry = await startTelemetry({
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_BSP_SCHEDULE_DELAY: "50",
      });
      await withSpan("process json-export-probe", {}, async () => undefined);
      // OTEL_BSP_SCHEDULE_DELAY is honoured: the batch leaves within 50 ms, not the SDK's default 5 s.
      const deadline = Date.now() + 2_000;
      while (collector.received.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(collector.received.length > 0, "exported before shutdown flushed it");
      assert.equal(await telemetry.shutdown(), undefined);
      const traces = collector.received.filter((r) => r.path === "/v1/traces");
      assert.ok(traces.length > 0);
      assert.ok(traces.every((r) => r.contentType === "application/json"));
      const names = traces.flatMap((r) =>
        (JSON.parse(r.body.toString()) as ExportedTraces).resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => span.name)),
        ),
      );
      assert.ok(names.includes("process json-export-probe"), JSON.stringify(names));
    } finally {
      collector.close();
    }
  });
});

type ExportedTraces = { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> };
