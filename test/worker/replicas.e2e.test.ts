import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { assertConserved, report } from "./conservation.ts";
import { sendFulfilments, shortLockTopology, spawnWorker, until } from "./support.ts";

const RUNS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replicas as containers run them: `keyless run` processes competing for one queue. */
async function startReplicas(stack: TestStack, count: number) {
  const replicas = Array.from({ length: count }, () =>
    spawnWorker(
      stack.workerEnv({
        LOG_LEVEL: "info",
        WORKER_CONCURRENCY: "4",
        WORKER_READ_AHEAD: "2",
        WORKER_SHUTDOWN_GRACE_MS: "3000",
      }),
    ),
  );
  await Promise.all(
    replicas.map((r, i) => until(() => r.output().includes("worker state: running"), 30_000, `replica ${i}`)),
  );
  return replicas;
}

async function stopAll(replicas: ReadonlyArray<{ child: ChildProcess; output: () => string }>) {
  await Promise.all(
    replicas.map(async ({ child, output }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      assert.equal(code, 0, output().slice(-2000));
    }),
  );
}

describe("replicas competing for one queue: each message applied once, whatever happens to a replica", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ topology: shortLockTopology("PT2S", 10) });
  });
  after(() => stack?.close());

  it("three competing workers apply every message once and leave nothing locked", async () => {
    const replicas = await startReplicas(stack, 3);
    try {
      for (let run = 1; run <= RUNS; run += 1) {
        const sent = await sendFulfilments(stack, 150, (i) =>
          i % 5 === 0 ? `slow-200-${randomUUID()}` : `o-${randomUUID()}`,
        );
        const c = await assertConserved(stack, "orders", sent, 60_000);
        report("three-replicas", run, c);
      }
    } finally {
      await stopAll(replicas);
    }
  });

  it("a replica stopped with SIGTERM mid-run drains, exits 0, and the others finish every message once", async () => {
    for (let run = 1; run <= RUNS; run += 1) {
      const replicas = await startReplicas(stack, 2);
      try {
        const sent = await sendFulfilments(stack, 80, () => `slow-300-${randomUUID()}`);
        await sleep(1_500);
        const [stopping] = replicas;
        stopping!.child.kill("SIGTERM");
        const [code] = (await once(stopping!.child, "exit")) as [number | null];
        assert.equal(code, 0, stopping!.output().slice(-2000));
        const c = await assertConserved(stack, "orders", sent, 60_000);
        report("sigterm-mid-run", run, c);
      } finally {
        await stopAll(replicas);
      }
    }
  });

  it("a replica killed with SIGKILL mid-run loses nothing: its locks expire and the others apply each message once", async () => {
    for (let run = 1; run <= RUNS; run += 1) {
      const replicas = await startReplicas(stack, 2);
      try {
        const sent = await sendFulfilments(stack, 80, () => `slow-300-${randomUUID()}`);
        await sleep(1_500);
        const [killed] = replicas;
        killed!.child.kill("SIGKILL");
        await once(killed!.child, "exit");
        const c = await assertConserved(stack, "orders", sent, 60_000);
        report("sigkill-mid-run", run, c);
      } finally {
        await stopAll(replicas);
      }
    }
  });
});
