import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { batchingFrom, exportersFrom, otelConfigProblems } from "../../src/telemetry/exporters.ts";

/** OpenTelemetry's env semantics, one signal at a time; nothing here starts an SDK or opens a socket. */
describe("the exporters the OTEL_* variables choose", () => {
  it("exports only spans when only OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set", () => {
    assert.deepEqual(exportersFrom({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9/t" }), {
      traces: { kind: "otlp", url: "http://127.0.0.1:9/t", protocol: "http/protobuf" },
      metrics: { kind: "none" },
    });
  });

  it("exports only metrics when only OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set", () => {
    assert.deepEqual(exportersFrom({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:9/m" }), {
      traces: { kind: "none" },
      metrics: { kind: "otlp", url: "http://127.0.0.1:9/m", protocol: "http/protobuf" },
    });
  });

  it("sends both signals to their paths under OTEL_EXPORTER_OTLP_ENDPOINT, a signal's own endpoint winning", () => {
    assert.deepEqual(
      exportersFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:8/m",
      }),
      {
        traces: { kind: "otlp", url: "http://127.0.0.1:9/v1/traces", protocol: "http/protobuf" },
        metrics: { kind: "otlp", url: "http://127.0.0.1:8/m", protocol: "http/protobuf" },
      },
    );
  });

  it("keeps metrics when OTEL_TRACES_EXPORTER=none turns tracing off", () => {
    assert.deepEqual(
      exportersFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_TRACES_EXPORTER: "none" }),
      {
        traces: { kind: "none" },
        metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics", protocol: "http/protobuf" },
      },
    );
  });

  it("keeps traces when OTEL_METRICS_EXPORTER=none turns metrics off", () => {
    assert.deepEqual(
      exportersFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_METRICS_EXPORTER: "none" }),
      {
        traces: { kind: "otlp", url: "http://127.0.0.1:9/v1/traces", protocol: "http/protobuf" },
        metrics: { kind: "none" },
      },
    );
  });

  it("prints spans with OTEL_TRACES_EXPORTER=console, an endpoint then serving metrics only", () => {
    assert.deepEqual(exportersFrom({ OTEL_TRACES_EXPORTER: "console" }), {
      traces: { kind: "console" },
      metrics: { kind: "none" },
    });
    assert.deepEqual(
      exportersFrom({ OTEL_TRACES_EXPORTER: "Console", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" }),
      {
        traces: { kind: "console" },
        metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics", protocol: "http/protobuf" },
      },
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

  it("sends over gRPC to the endpoint as given when OTEL_EXPORTER_OTLP_PROTOCOL=grpc, as the Container Apps agent injects it", () => {
    // Both variables as learn.microsoft.com/azure/container-apps/opentelemetry-agents lists them.
    assert.deepEqual(
      exportersFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel.service.k8se-apps:4317/",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      }),
      {
        traces: { kind: "otlp", url: "http://otel.service.k8se-apps:4317/", protocol: "grpc" },
        metrics: { kind: "otlp", url: "http://otel.service.k8se-apps:4317/", protocol: "grpc" },
      },
    );
  });

  it("lets a signal's own protocol win over the general one", () => {
    assert.deepEqual(
      exportersFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "HTTP/JSON",
      }),
      {
        traces: { kind: "otlp", url: "http://127.0.0.1:9", protocol: "grpc" },
        metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics", protocol: "http/json" },
      },
    );
  });

  it("exports no signal whose protocol is unknown, and names the variable and the values that work", () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http",
    };
    assert.deepEqual(exportersFrom(env), {
      traces: { kind: "none" },
      metrics: { kind: "otlp", url: "http://127.0.0.1:9/v1/metrics", protocol: "http/protobuf" },
    });
    const problems = otelConfigProblems(env);
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected one of http\/protobuf, http\/json, grpc .*got "http"$/,
    );
    assert.deepEqual(otelConfigProblems({ OTEL_EXPORTER_OTLP_PROTOCOL: " grpc " }), []);
  });

  it("reads the batching variables the SDK reads only when it builds its own processors", () => {
    assert.deepEqual(
      batchingFrom({
        OTEL_BSP_SCHEDULE_DELAY: "0",
        OTEL_BSP_MAX_QUEUE_SIZE: "8192",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: " 1024 ",
        OTEL_METRIC_EXPORT_INTERVAL: "10000",
      }),
      {
        spans: { scheduledDelayMillis: 0, maxQueueSize: 8192, maxExportBatchSize: 1024 },
        metrics: { exportIntervalMillis: 10000 },
      },
    );
    assert.deepEqual(batchingFrom({}), { spans: {}, metrics: {} });
  });

  it("names a batching variable that is not a whole number, and a metric timeout longer than the interval", () => {
    const env = {
      OTEL_BSP_MAX_QUEUE_SIZE: "lots",
      OTEL_BSP_EXPORT_TIMEOUT: "0",
      OTEL_METRIC_EXPORT_INTERVAL: "5000",
      OTEL_METRIC_EXPORT_TIMEOUT: "30000",
    };
    assert.deepEqual(otelConfigProblems(env), [
      'OTEL_BSP_EXPORT_TIMEOUT: expected a whole number of at least 1, got "0"',
      'OTEL_BSP_MAX_QUEUE_SIZE: expected a whole number of at least 1, got "lots"',
      "OTEL_METRIC_EXPORT_TIMEOUT: must not exceed OTEL_METRIC_EXPORT_INTERVAL (5000), got 30000",
    ]);
    assert.deepEqual(batchingFrom(env).spans, {}, "an unusable value keeps the SDK's default");
  });
});
