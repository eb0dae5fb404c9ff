import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";

import { context as otelContext } from "@opentelemetry/api";

import { producerContext } from "../../src/telemetry/message-context.ts";
import { withSpan } from "../../src/telemetry/span.ts";
import { startWithSampler } from "../support/telemetry-with-sampler.ts";

// Children of a span this process left out are not made (span-cost.test.ts); a producer's not-sampled flag is not
// that: this worker's own sampler decides. Its own file: the sampler is chosen once per process.

describe("a span under a producer's not-sampled trace", () => {
  it("is still made, and recorded when this worker's sampler says so", async () => {
    const telemetry = await startWithSampler("always_on");
    try {
      const traceId = randomBytes(16).toString("hex");
      const producer = producerContext({ traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-00` });
      assert.ok(producer);
      await otelContext.with(producer, () => withSpan("consume", {}, async () => undefined));
      const names = (await telemetry.finished()).map((s) => `${s.name} ${s.spanContext().traceId}`);
      assert.deepEqual(names, [`consume ${traceId}`]);
    } finally {
      await telemetry.shutdown();
    }
  });
});
