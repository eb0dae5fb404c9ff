/**
 * Sessions across stops and replicas: a worker stopped with sessions in flight hands every message on (none applied
 * twice, none left locked), and two replicas sharing a session queue never run one session in both at once.
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
import { startTestWorker, until } from "./support.ts";

const RUNS = 3;

describe("sessions across a stop and across replicas", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ topology: sessionTopology("PT5S", 10) });
  });
  after(() => stack?.close());

  it("drains with sessions in flight: the next worker finishes the rest, each message applied once, in order", async () => {
    for (let run = 1; run <= RUNS; run += 1) {
      const recorder = new SessionRecorder();
      const env = sessionEnv({ WORKER_SHUTDOWN_GRACE_MS: "2000" });
      const sent = await sendSteps(stack, 4, 10, () => "slow-60-");
      const first = await startTestWorker(stack, env, undefined, recorder.handlers("first"));
      await until(() => recorder.runs.length >= 8, 20_000, "sessions to be in flight");
      const running = recorder.runningNow;
      assert.ok(running > 0, "handlers are running when the stop comes");
      await first.worker.stop("test stop");
      const applied = sent.filter((m) => stack.ordersApi.effects(m.orderId).fulfilments === 1).length;
      const held = await stack.waitForCounts(SESSION_QUEUE, () => true);
      assert.equal(held.locked, 0, "the stopped worker holds nothing");
      assert.ok(applied < sent.length, "stopped mid-run");

      const next = await startTestWorker(stack, env, undefined, recorder.handlers("next"));
      try {
        const c = await assertConserved(stack, SESSION_QUEUE, sent, 60_000);
        assertInOrder(stack, sent);
        assert.deepEqual(recorder.overlaps, []);
        report(
          "session-drain",
          run,
          c,
          `${running} sessions running at the stop, ${applied} applied by the first worker`,
        );
      } finally {
        await next.worker.stop();
      }
    }
  });

  it("two replicas share the sessions: each session runs on one replica at a time, in order", async () => {
    const recorder = new SessionRecorder();
    const env = sessionEnv({ WORKER_MAX_CONCURRENT_SESSIONS: "4" });
    const a = await startTestWorker(stack, env, undefined, recorder.handlers("A", 5));
    const b = await startTestWorker(stack, env, undefined, recorder.handlers("B", 5));
    try {
      for (let run = 1; run <= RUNS; run += 1) {
        const before = recorder.runs.length;
        const sent = await sendSteps(stack, 10, 8);
        const c = await assertConserved(stack, SESSION_QUEUE, sent, 60_000);
        assertInOrder(stack, sent);
        const runs = recorder.runs.slice(before);
        const byReplica = (r: string) => runs.filter((x) => x.replica === r).length;
        assert.ok(
          byReplica("A") > 0 && byReplica("B") > 0,
          `both replicas worked: A ${byReplica("A")}, B ${byReplica("B")}`,
        );
        assert.deepEqual(recorder.overlaps, [], "a session ran on two replicas at once");
        assert.ok(recorder.maxConcurrentSessions <= 8, "each replica holds at most its 4 sessions");
        report("session-replicas", run, c, `A ran ${byReplica("A")}, B ran ${byReplica("B")}`);
      }
    } finally {
      await Promise.all([a.worker.stop(), b.worker.stop()]);
    }
  });
});
