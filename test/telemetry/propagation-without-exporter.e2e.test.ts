import assert from "node:assert/strict";
import { once } from "node:events";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { spawnWorker, until } from "../worker/support.ts";

/**
 * `keyless run` with no OTEL_* variable at all, so nothing is exported: the producer's trace context must still
 * reach the API, so that the API's own traces (and anyone reading its logs) join the producer's trace.
 */
describe("trace context with telemetry off", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack?.close());

  it("passes the producer's traceparent on to the API", async () => {
    const env = stack.workerEnv({ LOG_LEVEL: "info" });
    assert.ok(!Object.keys(env).some((k) => k.startsWith("OTEL_")), "no telemetry configured");
    const { child, output } = spawnWorker(env);
    try {
      await until(() => output().includes("worker state: running"), 20_000, "the worker to run");
      const sent = Array.from({ length: 3 }, () => ({
        traceId: randomBytes(16).toString("hex"),
        orderId: `o-${randomUUID()}`,
      }));
      await stack.send(
        "orders",
        sent.map((s) => ({
          messageId: randomUUID(),
          subject: "orders.fulfil",
          body: { orderId: s.orderId },
          applicationProperties: { traceparent: `00-${s.traceId}-${randomBytes(8).toString("hex")}-01` },
        })),
      );
      const call = (orderId: string) =>
        stack.ordersApi.journal().find((r) => r.orderId === orderId && r.method === "POST");
      await until(() => sent.every((s) => call(s.orderId)), 20_000, `the API calls; log:\n${output()}`);
      for (const s of sent) {
        assert.match(
          call(s.orderId)?.traceparent ?? "(none)",
          new RegExp(`^00-${s.traceId}-[0-9a-f]{16}-01$`),
        );
      }
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
