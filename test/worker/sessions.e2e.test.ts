/**
 * Session entities through the real SDK against the local stack: order within a session, sessions in parallel up to
 * WORKER_MAX_CONCURRENT_SESSIONS, and a poison message that cannot block its session. Each scenario runs several
 * times in a row; the orders API's journal records the order of calls.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { z } from "zod";

import { defineHandler, defineHandlers } from "../../src/worker/handler.ts";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { assertConserved, report } from "./conservation.ts";
import {
  assertInOrder,
  callOrder,
  SESSION_QUEUE,
  SessionRecorder,
  sendSteps,
  sessionEnv,
  sessionTopology,
} from "./sessions-support.ts";
import { startTestWorker, until } from "./support.ts";

const RUNS = 3;

describe("a session entity: in order within a session, sessions in parallel", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ topology: sessionTopology("PT5S", 3) });
  });
  after(() => stack?.close());

  it("calls the API for each session's messages in the order they were sent, while sessions run concurrently", async () => {
    const recorder = new SessionRecorder();
    const w = await startTestWorker(stack, sessionEnv(), undefined, recorder.handlers("one"));
    try {
      for (let run = 1; run <= RUNS; run += 1) {
        // Varying API delays within a session: a later message would overtake a slower earlier one if allowed.
        const sent = await sendSteps(stack, 6, 8, (s, step) => ((s + step) % 3 === 0 ? "slow-40-" : ""));
        const c = await assertConserved(stack, SESSION_QUEUE, sent, 60_000);
        assertInOrder(stack, sent);
        report("sessions-in-order", run, c, `max sessions at once ${recorder.maxConcurrentSessions}`);
      }
      assert.deepEqual(recorder.overlaps, [], "two handlers of one session ran at once");
      assert.ok(recorder.maxConcurrentSessions > 1, "sessions ran concurrently");
    } finally {
      await w.worker.stop();
    }
  });

  it("holds at most WORKER_MAX_CONCURRENT_SESSIONS sessions at once, and that many when there is work", async () => {
    for (let run = 1; run <= RUNS; run += 1) {
      const recorder = new SessionRecorder();
      const w = await startTestWorker(
        stack,
        sessionEnv({ WORKER_MAX_CONCURRENT_SESSIONS: "3" }),
        undefined,
        recorder.handlers("one", 30),
      );
      try {
        const sent = await sendSteps(stack, 8, 4);
        const c = await assertConserved(stack, SESSION_QUEUE, sent, 60_000);
        assertInOrder(stack, sent);
        report("sessions-limit", run, c, `max sessions at once ${recorder.maxConcurrentSessions}`);
        assert.equal(recorder.maxConcurrentSessions, 3);
        assert.deepEqual(recorder.overlaps, []);
      } finally {
        await w.worker.stop();
      }
    }
  });

  it("gives handlers the session: its id on ctx.message and ctx.session, its state as JSON kept across messages", async () => {
    const seen: Array<{ sessionId: string | undefined; id: string | undefined; before: unknown }> = [];
    const counter = defineHandler({
      subject: "orders.count",
      schema: z.object({}),
      api: "orders",
      roles: [],
      handle: async ({ message, session }) => {
        const before = await session?.getState();
        seen.push({ sessionId: message.sessionId, id: session?.id, before });
        await session?.setState({ count: ((before as { count?: number } | undefined)?.count ?? 0) + 1 });
      },
    });
    const w = await startTestWorker(stack, sessionEnv(), undefined, defineHandlers([counter]));
    try {
      const ids = ["c1", "c2", "c3"].map((id) => `${id}-${randomUUID()}`);
      await stack.send(
        SESSION_QUEUE,
        ids.map((messageId) => ({ messageId, sessionId: "counted", subject: "orders.count", body: {} })),
      );
      await w.settled(ids);
      assert.deepEqual(seen, [
        { sessionId: "counted", id: "counted", before: undefined },
        { sessionId: "counted", id: "counted", before: { count: 1 } },
        { sessionId: "counted", id: "counted", before: { count: 2 } },
      ]);
    } finally {
      await w.worker.stop();
    }
    const receiver = await stack.admin.acceptSession(SESSION_QUEUE, "counted");
    assert.deepEqual(await receiver.getSessionState(), { count: 3 });
    await receiver.setSessionState(Buffer.alloc(0));
    await receiver.close();
  });

  it("says to list a session entity in SERVICEBUS_SESSION_ENTITIES when it is received as a plain one, and the reverse", async () => {
    const w = await startTestWorker(
      stack,
      sessionEnv({ SERVICEBUS_ENTITIES: `orders,${SESSION_QUEUE}`, SERVICEBUS_SESSION_ENTITIES: "orders" }),
    );
    try {
      await until(
        () => w.log.lines().filter((l) => l.level === "warn" && l.entity).length >= 2,
        15_000,
        "warnings",
      ).catch((e: Error) => assert.fail(`${e.message}: ${w.log.text().slice(-3000)}`));
      const fixes = Object.fromEntries(
        w.log
          .lines()
          .filter((l) => l.level === "warn" && l.fix)
          .map((l) => [l.entity, l.fix]),
      );
      assert.equal(
        fixes[SESSION_QUEUE],
        `${SESSION_QUEUE} requires sessions: list it in SERVICEBUS_SESSION_ENTITIES (as well as in SERVICEBUS_ENTITIES)`,
      );
      assert.equal(
        fixes.orders,
        "orders does not require sessions: remove it from SERVICEBUS_SESSION_ENTITIES",
      );
      assert.equal(w.worker.readiness().ok, false);
    } finally {
      await w.worker.stop();
    }
  });

  it("dead-letters a poison message after MaxDeliveryCount and completes the session's later messages in order", async () => {
    const w = await startTestWorker(stack, sessionEnv({ WORKER_MAX_ATTEMPTS: "1" }));
    try {
      for (let run = 1; run <= RUNS; run += 1) {
        // Step 1 of session 0 always fails (503 from the API, far more often than the 3 deliveries allow).
        const abandoned: number[] = [];
        const off = w.worker.on("delivery.settled", (e) => {
          if (e.outcome.kind === "abandon" && e.messageId.startsWith("s0-")) abandoned.push(e.deliveryCount);
        });
        const sent = await sendSteps(stack, 2, 4, (s, step) => (s === 0 && step === 1 ? "flaky-50-" : ""));
        const poison = sent.find((m) => m.orderId.startsWith("flaky-"))!;
        const rest = sent.filter((m) => m !== poison);
        const events = await w.settled(
          rest.map((m) => m.messageId),
          60_000,
        );
        off();
        assert.ok(events.every((e) => e.outcome.kind === "complete"));
        // Abandoned on each of its MaxDeliveryCount (3) deliveries, then the broker dead-letters it.
        assert.deepEqual(abandoned, [0, 1, 2]);
        const dead = await stack.drainDeadLetters(SESSION_QUEUE, 1);
        assert.equal(dead[0]?.messageId, poison.messageId);
        assert.equal(dead[0]?.deadLetterReason, "MaxDeliveryCountExceeded");
        for (const m of rest) assert.equal(stack.ordersApi.effects(m.orderId).fulfilments, 1, m.messageId);
        assert.deepEqual(
          callOrder(stack, sent, poison.session),
          [0, 1, 2, 3],
          "the poison step came in its turn",
        );
        assertInOrder(
          stack,
          sent.filter((m) => m.session !== poison.session),
        );
        await stack.waitForCounts(SESSION_QUEUE, (c) => c.active === 0 && c.locked === 0);
        console.log(`sessions-poison run ${run}: ${rest.length} completed in order, 1 dead-lettered`);
      }
    } finally {
      await w.worker.stop();
    }
  });
});
