import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { sendFulfilments, shortLockTopology, startTestWorker, type TestWorker } from "./support.ts";

describe("flow control, locks and reconnection", () => {
  let stack: TestStack;
  let w: TestWorker;

  before(async () => {
    stack = await startTestStack({ topology: shortLockTopology("PT2S") });
    w = await startTestWorker(stack, { WORKER_CONCURRENCY: "3", WORKER_READ_AHEAD: "1" });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("never runs more handlers at once than its concurrency, as the API observes", async () => {
    const sent = await sendFulfilments(stack, 12, () => `slow-250-${randomUUID()}`);
    const events = await w.settled(sent.map((s) => s.messageId));
    assert.ok(events.every((e) => e.outcome.kind === "complete"));
    assert.ok(
      stack.ordersApi.maxConcurrentRequests <= 3,
      `saw ${stack.ordersApi.maxConcurrentRequests} at once`,
    );
    assert.equal(stack.ordersApi.maxConcurrentRequests, 3, "and does use the whole concurrency");
  });

  it("keeps the lock of a handler slower than the lock duration, so it is delivered once", async () => {
    const [sent] = await sendFulfilments(stack, 1, () => `slow-3000-${randomUUID()}`);
    const [event] = await w.settled([sent!.messageId], 20_000);
    assert.equal(event?.outcome.kind, "complete");
    assert.equal(event?.deliveryCount, 0, "never redelivered");
    assert.equal(stack.ordersApi.journal().filter((r) => r.orderId === sent!.orderId).length, 1);
  });

  it("reconnects after the broker restarts and processes what is sent afterwards", async () => {
    const first = await sendFulfilments(stack, 3);
    await w.settled(first.map((s) => s.messageId));
    await stack.restartBroker();
    const second = await sendFulfilments(stack, 5);
    const events = await w.settled(
      second.map((s) => s.messageId),
      60_000,
    );
    assert.ok(events.every((e) => e.outcome.kind === "complete"));
    for (const s of second) assert.equal(stack.ordersApi.effects(s.orderId).fulfilments, 1);
  });
});
