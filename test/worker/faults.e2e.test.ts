import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { assertConserved, report } from "./conservation.ts";
import { sendFulfilments, shortLockTopology, startTestWorker, type TestWorker } from "./support.ts";

const RUNS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("every message gets exactly its own outcome under faults (in-process worker)", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack({ topology: shortLockTopology("PT5S", 10) });
    w = await startTestWorker(stack, {
      WORKER_CONCURRENCY: "8",
      WORKER_READ_AHEAD: "4",
      WORKER_SETTLE_TIMEOUT_MS: "2000",
    });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("settles every message once when the broker detaches the receive link mid-flight, run after run", async () => {
    let byManagement = 0;
    for (let run = 1; run <= RUNS; run += 1) {
      const sent = await sendFulfilments(stack, 80, () => `slow-150-${randomUUID()}`);
      const startedAt = Date.now();
      let detached = 0;
      for (let i = 0; i < 3; i += 1) {
        await sleep(350);
        detached += stack.broker.detachReceivers("orders");
      }
      assert.ok(detached >= 1, "the broker detached the worker's receive link");
      const c = await assertConserved(stack, "orders", sent, 45_000);
      const ids = new Set(sent.map((s) => s.messageId));
      const viaManagement = [...w.outcomes.values()].filter(
        (e) => ids.has(e.messageId) && e.settlePath === "management",
      ).length;
      byManagement += viaManagement;
      report(
        "link-recycled",
        run,
        c,
        `links detached ${detached}, settled by lock token ${viaManagement}, ${Date.now() - startedAt} ms`,
      );
    }
    assert.ok(byManagement > 0, "messages received on a detached link were settled by lock token");
  });

  it("applies every message once through a brownout where a third of API calls fail with 503 or 429", async () => {
    for (let run = 1; run <= RUNS; run += 1) {
      stack.ordersApi.setBrownout({ every: 3 });
      const sent = await sendFulfilments(stack, 90);
      await sleep(2_000);
      stack.ordersApi.setBrownout(undefined);
      const c = await assertConserved(stack, "orders", sent, 45_000);
      report("brownout", run, c);
    }
  });
});
