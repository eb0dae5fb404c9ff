import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ordersFulfil } from "../../src/handlers/orders-fulfil.ts";
import { ordersRefund } from "../../src/handlers/orders-refund.ts";
import { runHandler } from "../../src/worker/testing.ts";

// Handlers tested alone: no broker, no identity endpoint, no API — runHandler records the calls.
describe("the shipped orders handlers", () => {
  it("orders.fulfil posts the fulfilment to the order's path with the message id as Idempotency-Key", async () => {
    const { outcome, calls } = await runHandler(ordersFulfil, {
      body: { orderId: "A 1" },
      message: { messageId: "m-42" },
    });
    assert.deepEqual(outcome, { kind: "complete" });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.method, "POST");
    assert.equal(calls[0]?.path, "orders/A%201/fulfilment");
    assert.deepEqual(calls[0]?.json, { warehouse: "main" });
    assert.equal(calls[0]?.headers["idempotency-key"], "m-42");
  });

  it("orders.fulfil's body must name an order: anything else is InvalidBody, and the API is not called", async () => {
    const { outcome, calls } = await runHandler(ordersFulfil, { body: { order: "A-1" } });
    assert.equal(outcome.kind, "deadLetter");
    assert.equal(outcome.kind === "deadLetter" && outcome.reason, "InvalidBody");
    assert.equal(calls.length, 0);
  });

  it("orders.refund is abandoned for redelivery when the API answers 503", async () => {
    const { outcome } = await runHandler(ordersRefund, {
      body: { orderId: "A-1", amount: 5, currency: "EUR" },
      respond: () => ({ status: 503, body: { error: "unavailable" } }),
    });
    assert.equal(outcome.kind, "abandon");
  });

  it("orders.refund without the Orders.Refund role is dead-lettered as MissingAppRole before any call", async () => {
    const { outcome, calls } = await runHandler(ordersRefund, {
      body: { orderId: "A-1", amount: 5, currency: "EUR" },
      grantedRoles: ["Orders.Read"],
    });
    assert.equal(outcome.kind === "deadLetter" && outcome.reason, "MissingAppRole");
    assert.equal(calls.length, 0);
  });
});
