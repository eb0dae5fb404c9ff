import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { receivedOnLiveLink, settleByLockToken } from "../../src/worker/servicebus-internals.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

// Pins the two places the worker reaches past @azure/service-bus's public surface: an SDK upgrade that changes them
// fails here, not in settlement under load.
describe("settlement by lock token and stale-link detection on the real SDK", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack?.close());

  it("sees a message's link as live until the broker detaches it, then settles it by lock token", async () => {
    await stack.send("orders", { messageId: randomUUID(), body: { n: 1 } });
    const receiver = stack.admin.createReceiver("orders");
    try {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      assert.ok(message, "received");
      assert.equal(receivedOnLiveLink(receiver, message), true);
      assert.equal(stack.broker.detachReceivers("orders"), 1);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(receivedOnLiveLink(receiver, message), false, "its link is gone");
      await settleByLockToken(receiver, message, { kind: "complete" }, 5_000);
      const counts = await stack.waitForCounts("orders", (c) => c.locked === 0 && c.active === 0);
      assert.equal(counts.deadLettered, 0);
    } finally {
      await receiver.close();
    }
  });

  it("dead-letters by lock token with the reason and description given", async () => {
    await stack.send("orders", { messageId: randomUUID(), body: { n: 2 } });
    const receiver = stack.admin.createReceiver("orders");
    try {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      assert.ok(message);
      await settleByLockToken(
        receiver,
        message,
        { kind: "deadLetter", reason: "InvalidBody", description: "field x: required", properties: {} },
        5_000,
      );
      const [dead] = await stack.drainDeadLetters("orders", 1);
      assert.equal(dead?.deadLetterReason, "InvalidBody");
      assert.equal(dead?.deadLetterErrorDescription, "field x: required");
    } finally {
      await receiver.close();
    }
  });
});
