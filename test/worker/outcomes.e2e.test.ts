import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { OutcomeEvent } from "../../src/worker/dispatcher.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { startTestWorker, type TestWorker } from "./support.ts";

/**
 * Each outcome end to end: the real SDKs, the local broker (managed-identity tokens over AMQPS), the sample API.
 * Checks both sides: what the broker holds afterwards and what the API received.
 */
describe("the worker's outcomes", () => {
  let stack: TestStack;
  let w: TestWorker;

  const settled = async (messageId: string, timeoutMs = 20_000): Promise<OutcomeEvent> => {
    const [event] = await w.settled([messageId], timeoutMs);
    return event!;
  };
  const send = async (subject: string, body: unknown) => {
    const messageId = randomUUID();
    await stack.send("orders", { messageId, subject, body });
    return messageId;
  };

  before(async () => {
    stack = await startTestStack();
    w = await startTestWorker(stack, {
      WORKER_MAX_ATTEMPTS: "3",
      WORKER_CONCURRENCY: "4",
      WORKER_BACKOFF_MAX_MS: "5000",
    });
  });

  after(async () => {
    await w?.worker.stop("test over");
    await stack?.close();
  });

  it("completes a valid message and calls the API with a role-scoped token and the message id as Idempotency-Key", async () => {
    const orderId = `o-${randomUUID()}`;
    const messageId = await send("orders.fulfil", { orderId });
    const event = await settled(messageId);
    assert.equal(event.outcome.kind, "complete");
    const call = stack.ordersApi.journal().find((r) => r.orderId === orderId && r.method === "POST");
    assert.ok(call, "the API saw the fulfilment");
    assert.equal(call.status < 300, true);
    assert.equal(call.idempotencyKey, messageId);
    assert.equal(call.caller?.oid, "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61");
    assert.equal(call.caller?.aud, "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42");
    assert.deepEqual([...(call.caller?.roles ?? [])].sort(), ["Orders.Fulfil", "Orders.Read"]);
    await stack.waitForCounts("orders", (c) => c.active === 0 && c.locked === 0);
  });

  it("dead-letters a body that fails the schema as InvalidBody, naming the field", async () => {
    const messageId = await send("orders.fulfil", { order: 42 });
    const event = await settled(messageId);
    assert.equal(event.outcome.kind, "deadLetter");
    const [dead] = await stack.drainDeadLetters("orders", 1);
    assert.equal(dead?.messageId, messageId);
    assert.equal(dead?.deadLetterReason, "InvalidBody");
    assert.match(dead?.deadLetterErrorDescription ?? "", /orderId/);
  });

  it("dead-letters an unknown subject as NoHandler, listing the subjects it handles", async () => {
    const messageId = await send("orders.cancel", { orderId: "x" });
    await settled(messageId);
    const [dead] = await stack.drainDeadLetters("orders", 1);
    assert.equal(dead?.deadLetterReason, "NoHandler");
    assert.match(dead?.deadLetterErrorDescription ?? "", /orders\.cancel.*orders\.fulfil/);
  });

  it("dead-letters a message whose handler needs a role the identity lacks, with guidance and without calling the API", async () => {
    const orderId = `o-${randomUUID()}`;
    const messageId = await send("orders.refund", { orderId, amount: 5, currency: "EUR" });
    await settled(messageId);
    const [dead] = await stack.drainDeadLetters("orders", 1);
    assert.equal(dead?.deadLetterReason, "MissingAppRole");
    const description = dead?.deadLetterErrorDescription ?? "";
    for (const expected of [
      "Orders.Refund",
      "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61",
      "Orders.Read",
      "keyless grant",
      "24",
    ]) {
      assert.ok(description.includes(expected), `description mentions ${expected}: ${description}`);
    }
    assert.equal(stack.ordersApi.journal().filter((r) => r.orderId === orderId).length, 0);
  });

  it("dead-letters a permanent API rejection as ApiRejected with the status", async () => {
    const messageId = await send("orders.fulfil", { orderId: `reject-${randomUUID()}` });
    await settled(messageId);
    const [dead] = await stack.drainDeadLetters("orders", 1);
    assert.equal(dead?.deadLetterReason, "ApiRejected");
    assert.match(dead?.deadLetterErrorDescription ?? "", /422/);
  });

  it("retries transient 503s in-process and completes, applying the order once", async () => {
    const orderId = `flaky-2-${randomUUID()}`;
    const messageId = await send("orders.fulfil", { orderId });
    const event = await settled(messageId);
    assert.equal(event.outcome.kind, "complete");
    const calls = stack.ordersApi.journal().filter((r) => r.orderId === orderId);
    assert.deepEqual(
      calls.map((c) => c.status),
      [503, 503, 201],
    );
    assert.ok(calls.every((c) => c.idempotencyKey === messageId));
    assert.equal(event.deliveryCount, 0, "no redelivery was needed");
  });

  it("honours a 429's Retry-After before trying again", async () => {
    const orderId = `throttled-1-${randomUUID()}`;
    const messageId = await send("orders.fulfil", { orderId });
    const event = await settled(messageId);
    assert.equal(event.outcome.kind, "complete");
    const calls = stack.ordersApi.journal().filter((r) => r.orderId === orderId);
    assert.equal(calls.length, 2);
    const waited = Date.parse(String(calls[1]!.at)) - Date.parse(String(calls[0]!.at));
    assert.ok(waited >= 900, `waited ${waited} ms for a Retry-After of 1 s`);
  });

  it("abandons after the in-process attempts and lets Service Bus redeliver with a higher delivery count", async () => {
    const orderId = `flaky-4-${randomUUID()}`;
    const messageId = await send("orders.fulfil", { orderId });
    // 3 attempts in the first delivery fail, the 4th call (second delivery) fails too, the 5th succeeds.
    const event = await settled(messageId, 30_000);
    assert.equal(event.outcome.kind, "complete");
    assert.equal(event.deliveryCount, 1, "completed on the second delivery");
    const abandoned = w.log
      .lines()
      .find((l) => l.messageId === messageId && l.msg === "message abandoned for redelivery");
    assert.ok(abandoned, "the abandon was logged");
  });

  it("never writes a token into its logs", () => {
    const text = w.log.text();
    assert.ok(text.length > 0);
    assert.doesNotMatch(text, /eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    assert.doesNotMatch(text, /Bearer\s+[\w-]{20,}/i);
  });

  it("never logs a token that a producer put in the subject: message-derived log fields are redacted", async () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2lnbmF0dXJl";
    const id = await send(`Bearer ${jwt}`, { orderId: "x" });
    const event = await settled(id);
    assert.equal(event.outcome.kind, "deadLetter", "no handler for it");
    assert.doesNotMatch(w.log.text(), new RegExp(jwt.split(".")[2]!), "the token is not in any log line");
    assert.match(w.log.text(), /\[redacted/, "its place is marked");
    await stack.drainDeadLetters("orders", 1);
  });

  it("dead-letters at once, without retrying, a message its handler rejects, with the handler's own reason", async () => {
    const id = await send("orders.cancelled-check", { orderId: `c-${randomUUID()}` });
    const event = await settled(id);
    assert.equal(event.outcome.kind, "deadLetter");
    if (event.outcome.kind !== "deadLetter") return;
    assert.equal(event.outcome.reason, "HandlerRejected");
    assert.match(
      event.outcome.description,
      /^OrderCancelled: order c-.* was cancelled before fulfilment \(attempts in this delivery: 1;/,
    );
    assert.equal(event.outcome.properties["keyless-handler-reason"], "OrderCancelled");
    const [dead] = await stack.drainDeadLetters("orders", 1);
    assert.equal(dead?.deadLetterReason, "HandlerRejected");
    assert.equal(dead?.applicationProperties?.["keyless-handler-reason"], "OrderCancelled");
  });
});
