/**
 * Session receivers through the unchanged @azure/service-bus SDK: the session cases of the SDK's own public specs
 * (sessionsTests, sessionsRequiredCleanEntityTests, renewLockSessions) that need no ATOM admin API — accepting a
 * named and the next available session, exclusive session locks, their renewal and expiry, session state, FIFO
 * within a session.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { isServiceBusError, type ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  eventually,
  queue,
  removeTestCa,
  sleep,
  startTestBroker,
} from "./support.ts";

const SESSIONS = { RequiresSession: true } as const;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isServiceBusError(error) ? error.code : `not a ServiceBusError: ${String(error)}`;
  }
  return "no error";
}

describe("session receivers", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([
        queue("named", SESSIONS),
        queue("next", SESSIONS),
        queue("exclusive", SESSIONS),
        queue("skip-locked", SESSIONS),
        queue("empty", SESSIONS),
        queue("arrives", SESSIONS),
        queue("fifo", SESSIONS),
        queue("state", SESSIONS),
        queue("renew", { ...SESSIONS, LockDuration: "PT1S" }),
        queue("expiry", { ...SESSIONS, LockDuration: "PT1S" }),
        queue("expiry-streaming", { ...SESSIONS, LockDuration: "PT1S" }),
        queue("auto-renew", { ...SESSIONS, LockDuration: "PT1S" }),
        queue("closed", SESSIONS),
      ]),
    );
    client = connectionStringClient(broker);
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("accepts a named session and receives only that session's messages, with the session locked for LockDuration", async () => {
    await client.createSender("named").sendMessages([
      { body: "a1", sessionId: "A" },
      { body: "b1", sessionId: "B" },
      { body: "a2", sessionId: "A" },
    ]);
    const receiver = await client.acceptSession("named", "A");
    assert.equal(receiver.sessionId, "A");
    const lockedFor = receiver.sessionLockedUntilUtc!.getTime() - Date.now();
    assert.ok(lockedFor > 3000 && lockedFor <= 5000, `locked for ${lockedFor} ms of the queue's 5 s`);
    const messages = await receiver.receiveMessages(5, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      messages.map((m) => [m.body, m.sessionId]),
      [
        ["a1", "A"],
        ["a2", "A"],
      ],
    );
    for (const m of messages) await receiver.completeMessage(m);
    await receiver.close();
    assert.equal(entityStats(broker, "named").active, 1, "session B's message is still there");
  });

  it("accepts a named session that has no messages, and receives nothing from it", async () => {
    await client.createSender("named").sendMessages({ body: "b2", sessionId: "B" });
    const receiver = await client.acceptSession("named", "nonexistent");
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 }), []);
    await receiver.close();
  });

  it("accepts the next available session and reports its id", async () => {
    await client.createSender("next").sendMessages({ body: "x", sessionId: "only" });
    const receiver = await client.acceptNextSession("next");
    assert.equal(receiver.sessionId, "only");
    const [m] = await receiver.receiveMessages(1);
    assert.equal(m?.body, "x");
    await receiver.completeMessage(m!);
    await receiver.close();
  });

  it("never lets two receivers hold the same session: a second accept of a locked session is SessionCannotBeLocked", async () => {
    await client.createSender("exclusive").sendMessages([
      { body: 1, sessionId: "S1" },
      { body: 2, sessionId: "S2" },
    ]);
    const first = await client.acceptNextSession("exclusive");
    const second = await client.acceptNextSession("exclusive");
    assert.notEqual(first.sessionId, second.sessionId);
    assert.deepEqual([first.sessionId, second.sessionId].sort(), ["S1", "S2"]);
    assert.equal(await codeOf(client.acceptSession("exclusive", first.sessionId)), "SessionCannotBeLocked");
    await first.close();
    const again = await client.acceptSession("exclusive", first.sessionId);
    assert.equal(again.sessionId, first.sessionId, "a closed receiver's session can be accepted again");
    await Promise.all([again.close(), second.close()]);
  });

  it("skips locked sessions when accepting the next one, even when the locked one has older messages", async () => {
    const sender = client.createSender("skip-locked");
    await sender.sendMessages({ body: "old", sessionId: "busy" });
    await sender.sendMessages({ body: "new", sessionId: "free" });
    const busy = await client.acceptSession("skip-locked", "busy");
    const next = await client.acceptNextSession("skip-locked");
    assert.equal(next.sessionId, "free");
    await Promise.all([busy.close(), next.close()]);
  });

  it("waits for the SDK's timeout when no session is available, then reports ServiceTimeout", async () => {
    const quick = connectionStringClient(broker, undefined, {
      retryOptions: { maxRetries: 0, timeoutInMs: 1500 },
    });
    const started = Date.now();
    assert.equal(await codeOf(quick.acceptNextSession("empty")), "ServiceTimeout");
    const waited = Date.now() - started;
    assert.ok(waited >= 1300 && waited < 5000, `waited ${waited} ms for a 1.5 s timeout`);
    await quick.close();
  });

  it("grants a waiting accept-next the session of a message sent while it waits", async () => {
    const accepting = client.acceptNextSession("arrives");
    await sleep(300);
    await client.createSender("arrives").sendMessages({ body: "late", sessionId: "late" });
    const receiver = await accepting;
    assert.equal(receiver.sessionId, "late");
    await receiver.close();
  });

  it("delivers each session's messages in the order they were sent, an abandoned one first again", async () => {
    const sender = client.createSender("fifo");
    for (let i = 0; i < 6; i++)
      await sender.sendMessages({ body: i, sessionId: i % 2 === 0 ? "even" : "odd" });
    const even = await client.acceptSession("fifo", "even");
    const firstTwo = await even.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      firstTwo.map((m) => m.body),
      [0, 2],
    );
    await even.abandonMessage(firstTwo[0]!);
    await even.completeMessage(firstTwo[1]!);
    const rest = await even.receiveMessages(5, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      rest.map((m) => [m.body, m.deliveryCount]),
      [
        [0, 1],
        [4, 0],
      ],
    );
    const odd = await client.acceptSession("fifo", "odd");
    const oddMessages = await odd.receiveMessages(5, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      oddMessages.map((m) => m.body),
      [1, 3, 5],
    );
    await Promise.all([even.close(), odd.close()]);
  });

  it("keeps session state across receivers: none at first, then what was set, until it is cleared", async () => {
    await client.createSender("state").sendMessages({ body: "s", sessionId: "st" });
    const first = await client.acceptSession("state", "st");
    assert.equal(await first.getSessionState(), null);
    await first.setSessionState("new_state");
    assert.equal(await first.getSessionState(), "new_state");
    await first.close();
    const second = await client.acceptNextSession("state");
    assert.equal(second.sessionId, "st");
    assert.equal(await second.getSessionState(), "new_state");
    await second.setSessionState(Buffer.alloc(0));
    assert.equal(await second.getSessionState(), null, "an empty state removes it");
    await second.close();
  });

  it("renews the session lock: renewSessionLock moves sessionLockedUntilUtc on by LockDuration from now", async () => {
    await client.createSender("renew").sendMessages({ body: "r", sessionId: "r" });
    const receiver = await client.acceptSession("renew", "r", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1);
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      const renewed = await receiver.renewSessionLock();
      const ahead = renewed.getTime() - Date.now();
      assert.ok(ahead > 700 && ahead <= 1000, `renewed until ${ahead} ms ahead`);
      assert.equal(receiver.sessionLockedUntilUtc?.getTime(), renewed.getTime());
    }
    await receiver.completeMessage(m!);
    await receiver.close();
    assert.equal(entityStats(broker, "renew").active + entityStats(broker, "renew").locked, 0);
  });

  it("loses an unrenewed session lock at LockDuration: settling is SessionLockLost and the message comes back counted", async () => {
    await client.createSender("expiry").sendMessages({ body: "e", sessionId: "e" });
    const receiver = await client.acceptSession("expiry", "e", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1);
    await sleep(1500);
    assert.equal(await codeOf(receiver.completeMessage(m!)), "SessionLockLost");
    assert.equal(await codeOf(receiver.getSessionState()), "SessionLockLost");
    await receiver.close();
    const next = await client.acceptNextSession("expiry");
    const [again] = await next.receiveMessages(1);
    assert.equal(again?.body, "e");
    assert.equal(again?.deliveryCount, 1);
    await next.completeMessage(again!);
    await next.close();
  });

  it("tells a subscribed receiver SessionLockLost when its session lock expires", async () => {
    await client.createSender("expiry-streaming").sendMessages({ body: "s", sessionId: "s" });
    const receiver = await client.acceptSession("expiry-streaming", "s", {
      maxAutoLockRenewalDurationInMs: 0,
    });
    const errors: string[] = [];
    let received = 0;
    receiver.subscribe(
      {
        processMessage: async () => void received++,
        processError: async (args) =>
          void errors.push(isServiceBusError(args.error) ? args.error.code : "other"),
      },
      { autoCompleteMessages: false },
    );
    await eventually("the lock-lost error", () => errors.includes("SessionLockLost"), 4000);
    assert.equal(received, 1);
    await receiver.close();
  });

  it("keeps a session past LockDuration while the SDK renews its lock automatically", async () => {
    await client.createSender("auto-renew").sendMessages({ body: "a", sessionId: "a" });
    const receiver = await client.acceptSession("auto-renew", "a");
    const [m] = await receiver.receiveMessages(1);
    await sleep(2500);
    await receiver.completeMessage(m!);
    await receiver.close();
    assert.equal(entityStats(broker, "auto-renew").active, 0);
  });

  it("releases a closed receiver's session at once: its unsettled messages are redelivered, counted", async () => {
    await client.createSender("closed").sendMessages([
      { body: 1, sessionId: "c" },
      { body: 2, sessionId: "c" },
    ]);
    const receiver = await client.acceptSession("closed", "c");
    const held = await receiver.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    assert.equal(held.length, 2);
    await receiver.close();
    const next = await client.acceptNextSession("closed");
    const again = await next.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      again.map((m) => [m.body, m.deliveryCount]),
      [
        [1, 1],
        [2, 1],
      ],
    );
    await next.close();
  });
});
