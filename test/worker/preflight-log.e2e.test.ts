import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { startTestWorker, type TestWorker, until } from "./support.ts";

describe("the preflight in the worker's JSON log", () => {
  let stack: TestStack;
  let worker: TestWorker;
  before(async () => {
    stack = await startTestStack();
    worker = await startTestWorker(stack);
  });
  after(async () => {
    await worker?.worker.stop();
    await stack?.close();
  });

  it("is one line with the table as rows, not a table squeezed into the message", async () => {
    const preflight = () => worker.log.lines().find((l) => String(l.msg).startsWith("preflight:"));
    await until(() => preflight() !== undefined, 15_000, "the preflight");
    const line = preflight()!;
    assert.equal(
      line.msg,
      "preflight: the identity lacks Orders.Refund; those messages will be dead-lettered (MissingAppRole)",
    );
    assert.deepEqual(line.preflight, [
      {
        handler: "orders.fulfil",
        api: "orders",
        needs: ["Orders.Fulfil"],
        has: ["Orders.Read", "Orders.Fulfil"],
        missing: [],
      },
      {
        handler: "orders.refund",
        api: "orders",
        needs: ["Orders.Refund"],
        has: ["Orders.Read", "Orders.Fulfil"],
        missing: ["Orders.Refund"],
      },
      // The test fixtures' handler that needs no role.
      {
        handler: "orders.cancelled-check",
        api: "orders",
        needs: [],
        has: ["Orders.Read", "Orders.Fulfil"],
        missing: [],
      },
    ]);
  });
});
