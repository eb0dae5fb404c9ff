import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { exportersFrom, otlpProblems } from "../../src/telemetry/exporters.ts";

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
    const problems = otlpProblems(env);
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected one of http\/protobuf, http\/json, grpc .*got "http"$/,
    );
    assert.deepEqual(otlpProblems({ OTEL_EXPORTER_OTLP_PROTOCOL: " grpc " }), []);
  });
});
