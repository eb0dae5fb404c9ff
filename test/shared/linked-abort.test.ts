import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";

import { linkedAbort } from "../../src/shared/linked-abort.ts";
import { unhandledDuring } from "../support/unhandled-during.ts";

const listenersOn = (signal: AbortSignal) => getEventListeners(signal, "abort").length;

describe("linkedAbort", () => {
  it("aborts with the reason of whichever linked signal aborts, and race rejects with it while the promise goes on", async () => {
    const lockLost = new AbortController();
    const abortNow = new AbortController();
    const linked = linkedAbort([lockLost.signal, abortNow.signal]);
    const unhandled = await unhandledDuring(async () => {
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error("late failure")), 5));
      const waiting = linked.race(late);
      abortNow.abort(new Error("grace period over"));
      await assert.rejects(waiting, /grace period over/);
    });
    assert.equal(linked.signal.aborted, true);
    assert.match(String((linked.signal.reason as Error).message), /grace period over/);
    assert.deepEqual(unhandled, [], "the raced promise's own late failure is handled");
  });

  it("times out with a TimeoutError that names what had no answer", async () => {
    const linked = linkedAbort([new AbortController().signal], { ms: 5, what: "handler" });
    await assert.rejects(linked.race(new Promise(() => undefined)), (error: Error) => {
      assert.equal(error.name, "TimeoutError");
      assert.equal(error.message, "handler: no answer within 5 ms");
      return true;
    });
    assert.equal((linked.signal.reason as Error).name, "TimeoutError");
  });

  it("leaves no listener on the long-lived signals once disposed, aborted or timed out", async () => {
    const longLived = [new AbortController(), new AbortController()];
    const signals = longLived.map((c) => c.signal);

    const disposed = linkedAbort(signals, { ms: 60_000, what: "handler" });
    assert.deepEqual(signals.map(listenersOn), [1, 1], "linked while it lasts");
    disposed.dispose();
    assert.deepEqual(signals.map(listenersOn), [0, 0], "after dispose");

    const timedOut = linkedAbort(signals, { ms: 1, what: "handler" });
    await assert.rejects(timedOut.race(new Promise(() => undefined)), /no answer within 1 ms/);
    assert.deepEqual(signals.map(listenersOn), [0, 0], "after the timeout");

    linkedAbort(signals);
    longLived[0]!.abort(new Error("lock lost"));
    assert.deepEqual(signals.map(listenersOn), [0, 0], "after one of them aborted");
  });

  it("resolves as the raced promise does while nothing aborts, and the timer then never fires", async () => {
    const linked = linkedAbort([new AbortController().signal], { ms: 5, what: "handler" });
    assert.equal(await linked.race(Promise.resolve(7)), 7);
    linked.dispose();
    await new Promise((resolve) => setTimeout(resolve, 15));
    assert.equal(linked.signal.aborted, false);
  });

  it("is aborted at once when a linked signal already is, and race rejects at once without leaving the promise's failure unhandled", async () => {
    const signal = AbortSignal.abort(new Error("lock lost before the attempt"));
    const linked = linkedAbort([signal], { ms: 60_000, what: "handler" });
    assert.equal(linked.signal.aborted, true);
    const unhandled = await unhandledDuring(async () => {
      const handler = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw linked.signal.reason as Error;
      })();
      await assert.rejects(linked.race(handler), /lock lost before the attempt/);
    });
    assert.deepEqual(unhandled, []);
    linked.dispose();
  });
});
