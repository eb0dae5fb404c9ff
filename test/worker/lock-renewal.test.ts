import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ServiceBusReceivedMessage } from "@azure/service-bus";

import { keepLockRenewed } from "../../src/worker/lock-renewal.ts";
import { memoryLogger } from "../support/stack.ts";

const LOCK_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A message locked for LOCK_MS and a receiver whose renewals extend it, counting them. */
function lockedMessage() {
  const message = { lockedUntilUtc: new Date(Date.now() + LOCK_MS) } as ServiceBusReceivedMessage;
  const receiver = {
    renewals: 0,
    renewMessageLock: async (m: ServiceBusReceivedMessage) => {
      receiver.renewals += 1;
      const until = new Date(Date.now() + LOCK_MS);
      (m as { lockedUntilUtc: Date }).lockedUntilUtc = until;
      return until;
    },
  };
  return { message, receiver };
}

describe("keeping a message's lock", () => {
  it("renews no more once stopped, the moment a settlement is issued", async () => {
    const { message, receiver } = lockedMessage();
    const lock = keepLockRenewed(receiver, message, { maxRenewalMs: 60_000, log: memoryLogger().logger });
    await sleep(LOCK_MS * 2);
    assert.ok(receiver.renewals >= 2, `renewed while held (${receiver.renewals})`);
    lock.stop();
    const after = receiver.renewals;
    await sleep(LOCK_MS * 2);
    assert.equal(receiver.renewals, after, "no renewal after stop");
    assert.equal(lock.lockLost.aborted, false);
  });

  it("gives the lock up at its expiry once renewed for the maximum time", async () => {
    const { message, receiver } = lockedMessage();
    const lock = keepLockRenewed(receiver, message, { maxRenewalMs: 300, log: memoryLogger().logger });
    await sleep(LOCK_MS * 3);
    assert.equal(lock.lockLost.aborted, true);
    assert.match(String((lock.lockLost.reason as Error).message), /renewed for the maximum of 300 ms/);
    lock.stop();
  });

  it("keeps renewing past the maximum while the message waits for tokens, then gives the handler a fresh maximum", async () => {
    const { message, receiver } = lockedMessage();
    const lock = keepLockRenewed(receiver, message, { maxRenewalMs: 300, log: memoryLogger().logger });
    lock.renewWithoutLimit(true);
    await sleep(LOCK_MS * 3);
    assert.equal(lock.lockLost.aborted, false, "not lost while waiting for tokens");
    lock.renewWithoutLimit(false);
    await sleep(50);
    assert.equal(lock.lockLost.aborted, false, "a fresh maximum from the end of the wait");
    await sleep(LOCK_MS * 3);
    assert.equal(lock.lockLost.aborted, true, "and the maximum applies again");
    lock.stop();
  });
});
