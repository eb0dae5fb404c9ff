import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { sendFulfilments, startTestWorker, type TestWorker } from "./support.ts";

async function readyz(port: number | undefined): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Its own file: MSAL caches tokens process-wide, and this must be the process's first token request.
describe("the identity endpoint down at start", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    stack.identity.setFault({ kind: "status", status: 503 });
    w = await startTestWorker(stack, { WORKER_TOKEN_TIMEOUT_MS: "1500" });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("keeps the worker alive but not ready, then ready once tokens can be had, and it processes messages", async () => {
    const health = await fetch(`http://127.0.0.1:${w.worker.healthPort}/healthz`);
    assert.equal(health.status, 200, "alive");
    // The preflight gives up on the token after WORKER_TOKEN_TIMEOUT_MS and says so.
    const tokensFailed = async () =>
      ((await readyz(w.worker.healthPort)).body.preflight as { tokensOk?: boolean }).tokensOk === false;
    await until(tokensFailed, 15_000);
    const notReady = await readyz(w.worker.healthPort);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.ready, false);
    assert.match(JSON.stringify(notReady.body.preflight), /no token|503|within/);

    stack.identity.setFault({ kind: "none" });
    await until(async () => (await readyz(w.worker.healthPort)).status === 200, 45_000);
    const [sent] = await sendFulfilments(stack, 1);
    const [event] = await w.settled([sent!.messageId], 30_000);
    assert.equal(event?.outcome.kind, "complete");
  });
});
