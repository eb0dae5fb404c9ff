import assert from "node:assert/strict";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { sendFulfilments, shortLockTopology, spawnWorker, startTestWorker, until } from "./support.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("stopping and crashing", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ topology: shortLockTopology("PT2S", 10) });
  });
  after(() => stack?.close());

  it("drains on SIGTERM: every message ends completed or back on the queue, none lost, none applied twice", async () => {
    const { child, output } = spawnWorker(
      stack.workerEnv({
        LOG_LEVEL: "info",
        WORKER_CONCURRENCY: "2",
        WORKER_READ_AHEAD: "2",
        WORKER_SHUTDOWN_GRACE_MS: "1000",
      }),
    );
    await until(() => output().includes("worker state: running"), 20_000, "the worker to run");
    // Two quick handlers complete; two slow ones are running when SIGTERM comes and are aborted by the 1 s grace
    // period; the rest were never started.
    const sent = await sendFulfilments(stack, 8, (i) =>
      i < 2 ? `slow-100-${randomUUID()}` : `slow-4000-${randomUUID()}`,
    );
    await sleep(1_500);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, output());
    assert.match(output(), /worker state: draining/);
    assert.match(output(), /worker state: stopped/);

    const applied = sent.filter((s) => stack.ordersApi.effects(s.orderId).fulfilments === 1).length;
    const counts = await stack.waitForCounts("orders", (c) => c.locked === 0);
    assert.equal(applied + counts.active, 8, `applied ${applied}, back on the queue ${counts.active}`);
    assert.ok(applied >= 2 && counts.active >= 4, `applied ${applied}, back on the queue ${counts.active}`);
    assert.ok(sent.every((s) => stack.ordersApi.effects(s.orderId).fulfilments <= 1));

    // The next worker finishes the rest, each order applied exactly once.
    const next = await startTestWorker(stack, { WORKER_CONCURRENCY: "8" });
    try {
      await until(
        () => sent.every((s) => stack.ordersApi.effects(s.orderId).fulfilments === 1),
        30_000,
        "every order",
      );
      await stack.waitForCounts("orders", (c) => c.active === 0 && c.locked === 0);
    } finally {
      await next.worker.stop();
    }
  });

  it("loses nothing when killed: locked messages return after their locks expire and are applied once", async () => {
    const { child, output } = spawnWorker(stack.workerEnv({ LOG_LEVEL: "info", WORKER_CONCURRENCY: "4" }));
    await until(() => output().includes("worker state: running"), 20_000, "the worker to run");
    const sent = await sendFulfilments(stack, 4, () => `slow-3000-${randomUUID()}`);
    await sleep(1_500); // every handler is inside its API call now
    child.kill("SIGKILL");
    await once(child, "exit");
    const held = await stack.waitForCounts("orders", () => true);
    assert.equal(held.locked, 4, "the dead worker's messages stay locked until their locks expire");

    const next = await startTestWorker(stack, { WORKER_CONCURRENCY: "4" });
    try {
      const events = await next.settled(
        sent.map((s) => s.messageId),
        30_000,
      );
      assert.ok(events.every((e) => e.outcome.kind === "complete"));
      assert.ok(
        events.every((e) => e.deliveryCount >= 1),
        "redelivered after the lock expired",
      );
      for (const s of sent) assert.equal(stack.ordersApi.effects(s.orderId).fulfilments, 1, s.orderId);
    } finally {
      await next.worker.stop();
    }
  });

  it("drains on an unhandled promise rejection: the in-flight messages complete once, then it exits 1 saying why", async () => {
    // A bug in some fire-and-forget path, set off by SIGUSR2 once all four handlers are inside their API calls.
    const bug = "process.on('SIGUSR2', () => Promise.reject(new Error('a fire-and-forget bug')))";
    const { child, output } = spawnWorker({
      ...stack.workerEnv({ LOG_LEVEL: "info", WORKER_CONCURRENCY: "4", WORKER_SHUTDOWN_GRACE_MS: "10000" }),
      NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(bug)}`,
    });
    await until(() => output().includes("worker state: running"), 20_000, "the worker to run");
    const sent = await sendFulfilments(stack, 4, () => `slow-3000-${randomUUID()}`);
    await stack.waitForCounts("orders", (c) => c.locked === 4);
    child.kill("SIGUSR2");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, output());
    const fatal = output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; msg: string; err?: { message?: string } })
      .filter((line) => line.level === "fatal");
    assert.equal(fatal.length, 1, output());
    assert.match(fatal[0]!.msg, /unhandled promise rejection .*draining in-flight messages, then exiting 1/);
    assert.equal(fatal[0]!.err?.message, "a fire-and-forget bug");
    // Settled before the exit, not left locked until the locks expire as a crash would leave them.
    const counts = await stack.waitForCounts("orders", () => true);
    assert.deepEqual({ active: counts.active, locked: counts.locked }, { active: 0, locked: 0 });
    for (const s of sent) assert.equal(stack.ordersApi.effects(s.orderId).fulfilments, 1, s.orderId);
  });
});
