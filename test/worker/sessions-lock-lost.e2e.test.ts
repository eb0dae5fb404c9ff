/**
 * A session's lock lost while its handler runs: a session queue with a 1 s LockDuration and a run's renewal cut to
 * 300 ms (WORKER_MAX_LOCK_RENEWAL_MS), so a handler that outlives it loses the session. Its signal aborts, nothing is
 * settled, and the broker gives the session back with that message first, in order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { assertConserved, report } from "./conservation.ts";
import {
  assertInOrder,
  SESSION_QUEUE,
  SessionRecorder,
  sendSteps,
  sessionEnv,
  sessionTopology,
} from "./sessions-support.ts";
import { startTestWorker } from "./support.ts";

const RUNS = 3;

describe("a session whose lock is lost while a handler runs", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ topology: sessionTopology("PT1S", 10) });
  });
  after(() => stack?.close());

  it("aborts the handler with LockLostError, settles nothing, and gets the message back first, in order", async () => {
    const recorder = new SessionRecorder();
    const lockLost: string[] = [];
    // Step 1 of session 0 hangs on its first delivery; the other sessions run meanwhile, their locks renewed.
    const w = await startTestWorker(
      stack,
      sessionEnv({ WORKER_MAX_LOCK_RENEWAL_MS: "300" }),
      undefined,
      recorder.handlers("one", 0, (id) => id.startsWith("s0-") && id.endsWith("#1")),
    );
    w.worker.on("delivery.settled", (e) => {
      if (e.outcome.kind === "lockLost") lockLost.push(e.messageId);
    });
    try {
      for (let run = 1; run <= RUNS; run += 1) {
        const sent = await sendSteps(stack, 3, 4);
        const hung = sent.find((m) => m.session.startsWith("s0-") && m.step === 1)!;
        const c = await assertConserved(stack, SESSION_QUEUE, sent, 60_000);
        assertInOrder(stack, sent);
        assert.ok(
          recorder.aborted.some((a) => a.messageId === hung.messageId && a.reason === "LockLostError"),
          `the hung handler was aborted for its lost lock: ${JSON.stringify(recorder.aborted)}`,
        );
        assert.ok(lockLost.includes(hung.messageId), "its outcome was lockLost (nothing settled)");
        const again = w.outcomes.get(hung.messageId)!;
        assert.equal(again.outcome.kind, "complete");
        assert.ok(again.deliveryCount >= 1, "completed on a redelivery");
        assert.deepEqual(recorder.overlaps, []);
        report("session-lock-lost", run, c, `redelivered as delivery ${again.deliveryCount + 1}`);
      }
    } finally {
      await w.worker.stop();
    }
  });
});
