import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { abortable } from "../../src/shared/abortable.ts";
import { unhandledDuring } from "../support/unhandled-during.ts";

describe("abortable", () => {
  it("rejects with the signal's reason when the signal aborts first, and the promise's own failure is handled", async () => {
    const controller = new AbortController();
    const unhandled = await unhandledDuring(async () => {
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error("late failure")), 5));
      const waiting = abortable(late, controller.signal);
      controller.abort(new Error("lock lost"));
      await assert.rejects(waiting, /lock lost/);
    });
    assert.deepEqual(unhandled, []);
  });

  it("rejects at once for a signal aborted already, and a handler that then fails leaves no unhandled rejection", async () => {
    // What a delivery meets when the lock is lost before an attempt starts: the handler runs, sees its aborted
    // signal and throws; nobody waits for it any more.
    const signal = AbortSignal.abort(new Error("lock lost before the attempt"));
    const unhandled = await unhandledDuring(async () => {
      const handler = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw signal.reason as Error;
      })();
      await assert.rejects(abortable(handler, signal), /lock lost before the attempt/);
    });
    assert.deepEqual(unhandled, []);
  });

  it("resolves as the promise does while the signal stays quiet", async () => {
    assert.equal(await abortable(Promise.resolve(7), new AbortController().signal), 7);
  });
});
