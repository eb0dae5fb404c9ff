import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { MIN_TOKEN_LIFETIME_SECONDS } from "../../src/local/tenant/index.ts";
import { startPausableProxy, type PausableProxy } from "../support/pausable-proxy.ts";
import { sampleTenant, startTestStack, type TestStack } from "../support/stack.ts";
import { assertConserved, report } from "./conservation.ts";
import { sendFulfilments, shortLockTopology, startTestWorker, type TestWorker } from "./support.ts";

async function readyz(port: number | undefined) {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return {
    status: response.status,
    body: (await response.json()) as { tokens: Record<string, { ok: boolean; problem?: string }> },
  };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

// Its own file: MSAL fixes the managed-identity endpoint once per process, and here it is the pausable proxy.
describe("the identity endpoint stopped mid-run", () => {
  let stack: TestStack;
  let proxy: PausableProxy;
  let w: TestWorker;
  before(async () => {
    // Tokens of the shortest lifetime, so the worker asks the endpoint for each one (inside MSAL's refresh window).
    const tenant = { ...(await sampleTenant()), tokenLifetimeSeconds: MIN_TOKEN_LIFETIME_SECONDS };
    stack = await startTestStack({ tenant, topology: shortLockTopology("PT5S", 3) });
    const direct = new URL(stack.env().IDENTITY_ENDPOINT!);
    proxy = await startPausableProxy(Number(direct.port));
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    process.env.IDENTITY_ENDPOINT = viaProxy.toString();
    w = await startTestWorker(stack, {
      IDENTITY_ENDPOINT: viaProxy.toString(),
      WORKER_CONCURRENCY: "4",
      WORKER_TOKEN_TIMEOUT_MS: "1500",
      // The entity's MaxDeliveryCount is 3: abandoning on every failed token would dead-letter within seconds.
      WORKER_MAX_ATTEMPTS: "2",
    });
  });
  after(async () => {
    await w?.worker.stop();
    await proxy?.close();
    await stack?.close();
  });

  it("goes not ready within seconds, dead-letters nothing, and applies every message once after it returns", async () => {
    for (let run = 1; run <= 3; run += 1) {
      await until(async () => (await readyz(w.worker.healthPort)).status === 200, 30_000, "ready");
      const sent = await sendFulfilments(stack, 60, () => `slow-100-${randomUUID()}`);
      await until(async () => stack.ordersApi.journal().length > 0, 10_000, "the first API call");
      await new Promise((r) => setTimeout(r, 300));
      proxy.pause();
      const notReadyAfterMs = await until(
        async () => (await readyz(w.worker.healthPort)).status === 503,
        10_000,
        "not ready",
      );
      const during = await readyz(w.worker.healthPort);
      const down = Object.entries(during.body.tokens).filter(([, t]) => !t.ok);
      assert.ok(down.length > 0, `a token source is reported down: ${JSON.stringify(during.body.tokens)}`);
      assert.doesNotMatch(JSON.stringify(during.body), /eyJ/, "no token in /readyz");
      await new Promise((r) => setTimeout(r, 6_000)); // an outage longer than a lock and several token timeouts
      const heldDuring = await stack.waitForCounts("orders", () => true);
      assert.equal(heldDuring.deadLettered, 0, "nothing dead-lettered during the outage");
      proxy.resume();
      const c = await assertConserved(stack, "orders", sent, 60_000);
      const ids = new Set(sent.map((s) => s.messageId));
      const redelivered = [...w.outcomes.values()].filter((e) => ids.has(e.messageId) && e.deliveryCount > 0);
      report(
        "identity-outage",
        run,
        c,
        `not ready after ${notReadyAfterMs} ms, sources down ${down.map(([n]) => n).join("+")}, redelivered ${redelivered.length}`,
      );
    }
  });
});
