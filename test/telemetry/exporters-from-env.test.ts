import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { exportersFrom } from "../../src/telemetry/start.ts";

/** OpenTelemetry's env semantics, one signal at a time; nothing here starts an SDK or opens a socket. */
describe("the exporters the OTEL_* variables choose", () => {
  it("exports only spans when only OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set", () => {
    assert.deepEqual(exportersFrom({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9/t" }), {
      traces: { kind: "otlp", url: "http://127.0.0.1:9/t" },
      metrics: { kind: "none" },
    });
  });

  it("exports only metrics when only OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set", () => {
    assert.deepEqual(exportersFrom({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:9/m" }), {
      traces: { kind: "none" },
      metrics: { kind: "otlp", url: "http://127.0.0.1:9/m" },
    });
  });

  it("sends both signals to their paths under OTEL_EXPORTER_OTLP_ENDPOINT, a signal's own endpoint winning", () => {
    assert.deepEqual(
      exportersFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:8/m",
      }),
      {
        traces: { kind: "otlp", url: "http://127.0.0.1:9/v1/traces" },
        metrics: { kind: "otlp", url: "http://127.0.0.1:8/m" },
      },
    );
  });

  it("keeps metrics when OTEL_TRACES_EXPORTER=none turns tracing off", () => {
    assert.deepEqual(
      exportersFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_TRACES_EXPORTER: "none" }),
      { traces: { kind: "none" }, metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics" } },
    );
  });

  it("keeps traces when OTEL_METRICS_EXPORTER=none turns metrics off", () => {
    assert.deepEqual(
      exportersFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_METRICS_EXPORTER: "none" }),
      { traces: { kind: "otlp", url: "http://127.0.0.1:9/v1/traces" }, metrics: { kind: "none" } },
    );
  });

  it("prints spans with OTEL_TRACES_EXPORTER=console, an endpoint then serving metrics only", () => {
    assert.deepEqual(exportersFrom({ OTEL_TRACES_EXPORTER: "console" }), {
      traces: { kind: "console" },
      metrics: { kind: "none" },
    });
    assert.deepEqual(
      exportersFrom({ OTEL_TRACES_EXPORTER: "Console", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" }),
      { traces: { kind: "console" }, metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics" } },
    );
  });

  it("exports nothing with OTEL_SDK_DISABLED=true or with no endpoint", () => {
    const nothing = { traces: { kind: "none" }, metrics: { kind: "none" } };
    assert.deepEqual(
      exportersFrom({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" }),
      nothing,
    );
    assert.deepEqual(exportersFrom({}), nothing);
  });
});
