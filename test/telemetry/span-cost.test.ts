import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ROOT_CONTEXT, type Span } from "@opentelemetry/api";

import { traceProperties } from "../../src/telemetry/message-context.ts";
import { isInert, withSpan } from "../../src/telemetry/span.ts";
import { startWithSampler } from "../support/telemetry-with-sampler.ts";

// withSpan runs twice for every message: a span nobody records must cost no attribute object.
// One process, in order: first with no tracer provider at all, then with one whose sampler keeps nothing.

/** Runs withSpan, counting how often it asks for the attributes, and says what the callback saw. */
async function spanOnce() {
  let asked = 0;
  const seen = await withSpan(
    "probe",
    {
      attributes: () => {
        asked += 1;
        return { "probe.attribute": 1 };
      },
    },
    async (span: Span) => ({ recording: span.isRecording(), inert: isInert(span) }),
  );
  return { asked, ...seen };
}

describe("a span nobody records", () => {
  it("with telemetry off, never builds its attributes", async () => {
    assert.deepEqual(await spanOnce(), { asked: 0, recording: false, inert: true });
  });

  it("still passes a failure of its callback on", async () => {
    await assert.rejects(
      withSpan("probe", {}, async () => {
        throw new Error("the handler's own failure");
      }),
      /the handler's own failure/,
    );
  });

  describe("sampled out", () => {
    let telemetry: Awaited<ReturnType<typeof startWithSampler>>;
    before(async () => (telemetry = await startWithSampler("always_off")));
    after(() => telemetry.shutdown());

    it("never builds its attributes and exports nothing", async () => {
      const seen = await spanOnce();
      assert.equal(seen.asked, 0);
      assert.equal(seen.recording, false);
      // Sampled out is not inert: its trace context still propagates (with the not-sampled flag) to what it calls.
      assert.equal(seen.inert, false);
      assert.equal((await telemetry.finished()).length, 0);
    });

    it("makes no child spans: they run under the parent, which still passes the trace on", async () => {
      const seen = await withSpan("parent", { parent: ROOT_CONTEXT }, async (parent) =>
        withSpan("child", {}, async (child) => ({
          parent: parent.spanContext(),
          child: child.spanContext(),
          traceparent: traceProperties().traceparent,
        })),
      );
      assert.equal(seen.child.spanId, seen.parent.spanId);
      // The API still learns the trace and that it is not sampled (flags 00).
      assert.equal(seen.traceparent, `00-${seen.parent.traceId}-${seen.parent.spanId}-00`);
    });
  });
});
