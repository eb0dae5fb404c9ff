import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";

import { startTelemetry } from "../../src/telemetry/start.ts";

/**
 * Starts telemetry under the sampler OTEL_TRACES_SAMPLER names, spans kept in memory; `finished()` flushes and
 * returns them. Once per process: OpenTelemetry registers its globals only once, so a second start (even after
 * `shutdown`) registers nothing, and a file that needs another sampler is a file of its own.
 */
export async function startWithSampler(sampler: string): Promise<{
  finished(): Promise<ReadableSpan[]>;
  shutdown(): Promise<void>;
}> {
  process.env.OTEL_TRACES_SAMPLER = sampler;
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const telemetry = await startTelemetry({}, { spanProcessors: [processor] });
  return {
    finished: async () => {
      await processor.forceFlush();
      return exporter.getFinishedSpans();
    },
    shutdown: async () => {
      await telemetry.shutdown();
      delete process.env.OTEL_TRACES_SAMPLER;
    },
  };
}
