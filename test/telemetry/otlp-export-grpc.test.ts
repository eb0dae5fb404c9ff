import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type sendUnaryData, Server, ServerCredentials, type ServerUnaryCall } from "@grpc/grpc-js";
import { metrics } from "@opentelemetry/api";

import { withSpan } from "../../src/telemetry/span.ts";
import { startTelemetry } from "../../src/telemetry/start.ts";

/**
 * A collector's two OTLP/gRPC services, keeping each request's raw protobuf. Strings are plain UTF-8 in protobuf,
 * so a span's or a metric's name can be found in the bytes without decoding them.
 */
async function grpcCollector() {
  const received = { traces: [] as Buffer[], metrics: [] as Buffer[] };
  const raw = (b: Buffer) => b;
  const service = (path: string) => ({
    Export: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  });
  const into =
    (list: Buffer[]) => (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      list.push(call.request);
      callback(null, Buffer.alloc(0)); // an empty Export*ServiceResponse: everything accepted
    };
  const server = new Server();
  server.addService(service("/opentelemetry.proto.collector.trace.v1.TraceService/Export"), {
    Export: into(received.traces),
  });
  server.addService(service("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"), {
    Export: into(received.metrics),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { received, port, close: () => server.forceShutdown() };
}

describe("OTLP export over gRPC", () => {
  it("sends spans and metrics to a gRPC collector when OTEL_EXPORTER_OTLP_PROTOCOL=grpc, as on the Container Apps agent", async () => {
    const collector = await grpcCollector();
    try {
      // The shape the Container Apps agent injects: a base URL on port 4317 (here a loopback one) and grpc.
      const telemetry = await startTelemetry({
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}/`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      });
      assert.equal(telemetry.mode, "otlp");
      await withSpan("process grpc-export-probe", {}, async () => undefined);
      metrics.getMeter("test").createCounter("grpc_export_probe").add(1);
      const problem = await telemetry.shutdown(); // flushes spans and metrics
      assert.equal(problem, undefined);
      const has = (list: Buffer[], text: string) => list.some((b) => b.includes(text));
      assert.ok(has(collector.received.traces, "process grpc-export-probe"), "the span reached TraceService");
      assert.ok(has(collector.received.metrics, "grpc_export_probe"), "the metric reached MetricsService");
    } finally {
      collector.close();
    }
  });
});
