import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { metrics } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";

// A meter provider of the test's own, registered before the worker's modules load, so the worker's instruments
// (created lazily from the global provider) report to it.
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);
const { startTestStack } = await import("../support/stack.ts");
const { startTestWorker } = await import("../worker/support.ts");

type Stack = Awaited<ReturnType<typeof startTestStack>>;
type Worker = Awaited<ReturnType<typeof startTestWorker>>;

/** keyless.messages.in_flight per entity, as a collection now reads it. */
async function inFlight(): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const points = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === "keyless.messages.in_flight")
    .flatMap((m) => m.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>);
  return Object.fromEntries(
    points.map((p) => [String(p.attributes["messaging.destination.name"]), p.value as number]),
  );
}

describe("keyless.messages.in_flight", () => {
  let stack: Stack;
  let w: Worker;
  before(async () => {
    stack = await startTestStack();
    w = await startTestWorker(stack);
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
    await provider.shutdown();
  });

  it("counts the messages received and not yet settled, per entity, and none once they are", async () => {
    assert.deepEqual(await inFlight(), { orders: 0 }, "an idle worker holds nothing");
    // Three slow API calls: the messages stay in flight for 1.5 s.
    const ids = [1, 2, 3].map(() => randomUUID());
    for (const messageId of ids) {
      await stack.send("orders", {
        messageId,
        subject: "orders.fulfil",
        body: { orderId: `slow-1500-${randomUUID()}` },
      });
    }
    const deadline = Date.now() + 5_000;
    let seen = 0;
    while (seen < 3 && Date.now() < deadline) {
      seen = (await inFlight()).orders ?? 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen, 3, "all three held while their API calls run");
    await w.settled(ids);
    assert.deepEqual(await inFlight(), { orders: 0 }, "back to none after they settle");
  });
});
