import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";

import { startTelemetry } from "../../src/telemetry/start.ts";

/**
 * Runs `fn` with telemetry started under the sampler OTEL_TRACES_SAMPLER names, spans kept in memory; `finished()`
 * flushes and returns them. The sampler is the process's: a file that needs another one is a file of its own.
 */
export async function withSampler<T>(
  sampler: string,
  fn: (finished: () => Promise<ReadableSpan[]>) => Promise<T>,
): Promise<T> {
  process.env.OTEL_TRACES_SAMPLER = sampler;
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const telemetry = await startTelemetry({}, { spanProcessors: [processor] });
  try {
    return await fn(async () => {
      await processor.forceFlush();
      return exporter.getFinishedSpans();
    });
  } finally {
    await telemetry.shutdown();
    delete process.env.OTEL_TRACES_SAMPLER;
  }
}
