import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";

import type { Handler } from "../../src/worker/index.ts";
import { defineHandlers } from "../../src/worker/index.ts";
import { runHandler } from "../../src/worker/testing.ts";
import { handlers } from "../../src/handlers/index.ts";

const README = new URL("../../README.md", import.meta.url);
// Written where a handler lives, so its imports resolve exactly as they would in src/handlers.
const DIR = new URL("../../src/handlers/.readme-example/", import.meta.url);

async function readmeHandler(): Promise<Handler> {
  const text = await readFile(README, "utf8");
  const section = text.slice(text.indexOf("## Add a handler"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, "the README's 'Add a handler' section has a ts block");
  await mkdir(DIR, { recursive: true });
  const file = new URL("orders-ship.ts", DIR);
  await writeFile(file, block.replaceAll('"../worker/index.ts"', '"../../worker/index.ts"'));
  try {
    const module = (await import(file.href)) as Record<string, Handler>;
    const handler = Object.values(module)[0];
    assert.ok(handler, "the block exports a handler");
    return handler;
  } finally {
    await rm(DIR, { recursive: true, force: true });
  }
}

describe("the README's 'Add a handler' section", () => {
  it("is a handler that joins the shipped ones and runs alone against a recorded API", async () => {
    const ship = await readmeHandler();
    const map = defineHandlers([...Object.values(handlers), ship]);
    assert.ok(map["orders.ship"]);
    const { outcome, calls } = await runHandler(ship, { body: { orderId: "A-1", carrier: "dhl" } });
    assert.deepEqual(outcome, { kind: "complete" });
    assert.equal(calls[0]?.path, "orders/A-1/fulfilment");
    const rejected = await runHandler(ship, { body: { orderId: "cancelled-2", carrier: "ups" } });
    assert.equal(rejected.outcome.kind === "deadLetter" && rejected.outcome.reason, "HandlerRejected");
    const invalid = await runHandler(ship, { body: { orderId: "A-3", carrier: "post" } });
    assert.equal(invalid.outcome.kind === "deadLetter" && invalid.outcome.reason, "InvalidBody");
  });
});
