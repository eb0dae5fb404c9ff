import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";

import { defineHandlers, handlersIn } from "../../src/worker/index.ts";
import { runHandler } from "../../src/worker/testing.ts";
import { handlers } from "../../src/handlers/index.ts";

const README = new URL("../../README.md", import.meta.url);
// Written where a handler lives, so its imports resolve exactly as they would in src/handlers.
const DIR = new URL("../../src/handlers/.readme-example/", import.meta.url);

/** The README's block as a file in a handlers folder, and the map that folder gives. */
async function readmeHandlers(): Promise<Awaited<ReturnType<typeof handlersIn>>> {
  const text = await readFile(README, "utf8");
  const section = text.slice(text.indexOf("## Add a handler"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, "the README's 'Add a handler' section has a ts block");
  await mkdir(DIR, { recursive: true });
  const file = new URL("orders-ship.ts", DIR);
  await writeFile(file, block.replaceAll('"../worker/index.ts"', '"../../worker/index.ts"'));
  try {
    return await handlersIn(DIR);
  } finally {
    await rm(DIR, { recursive: true, force: true });
  }
}

describe("the README's 'Add a handler' section", () => {
  it("is one file that a handlers folder picks up, joins the shipped ones and runs alone against a recorded API", async () => {
    const found = await readmeHandlers();
    const ship = found["orders.ship"];
    assert.ok(ship, "the folder's map has the README's handler");
    const map = defineHandlers([...Object.values(handlers), ship]);
    assert.equal(Object.keys(map).length, Object.keys(handlers).length + 1);
    const { outcome, calls } = await runHandler(ship, { body: { orderId: "A-1", carrier: "dhl" } });
    assert.deepEqual(outcome, { kind: "complete" });
    assert.equal(calls[0]?.path, "orders/A-1/fulfilment");
    const rejected = await runHandler(ship, { body: { orderId: "cancelled-2", carrier: "ups" } });
    assert.equal(rejected.outcome.kind === "deadLetter" && rejected.outcome.reason, "HandlerRejected");
    const invalid = await runHandler(ship, { body: { orderId: "A-3", carrier: "post" } });
    assert.equal(invalid.outcome.kind === "deadLetter" && invalid.outcome.reason, "InvalidBody");
  });

  it("is refused, naming the file, when it forgets defineHandler", async () => {
    await mkdir(DIR, { recursive: true });
    await writeFile(
      new URL("orders-forgotten.ts", DIR),
      "export const ordersShip = { subject: 'orders.ship' };\n",
    );
    try {
      await assert.rejects(
        handlersIn(DIR),
        /orders-forgotten\.ts exports no handler: export one made with defineHandler/,
      );
    } finally {
      await rm(DIR, { recursive: true, force: true });
    }
  });
});
