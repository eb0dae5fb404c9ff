import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { isServiceBusError, type ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  credentialFor,
  emulatorConfig,
  entityStats,
  eventually,
  grant,
  queue,
  removeTestCa,
  sleep,
  startTestBroker,
  tokenClient,
} from "./support.ts";

describe("settlement, locks and dead-lettering", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([
        queue("abandon"),
        queue("dead"),
        queue("defer"),
        queue("renew", { LockDuration: "PT1S" }),
        queue("expire", { LockDuration: "PT0.5S" }),
        queue("lost", { LockDuration: "PT0.3S" }),
        queue("maxdc", { MaxDeliveryCount: 2 }),
        queue("ttl", { DefaultMessageTimeToLive: "PT0.3S", DeadLetteringOnMessageExpiration: true }),
        queue("ttl-drop", { DefaultMessageTimeToLive: "PT0.3S" }),
        queue("after-close", { LockDuration: "PT0.6S" }),
      ]),
    );
    grant("app", ["Send", "Listen"]);
    client = tokenClient(broker, credentialFor("app"));
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  async function sendAndReceive(entity: string, body: unknown = "payload") {
    await client.createSender(entity).sendMessages({ body });
    const receiver = client.createReceiver(entity);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.ok(m, `a message from ${entity}`);
    return { receiver, m };
  }

  it("redelivers an abandoned message with delivery count + 1 and the modified properties", async () => {
    const { receiver, m } = await sendAndReceive("abandon");
    await receiver.abandonMessage(m, { retried: "yes" });
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(again?.deliveryCount, 1);
    assert.equal(again?.applicationProperties?.retried, "yes");
    assert.equal(Number(again?.sequenceNumber), Number(m.sequenceNumber));
    await receiver.completeMessage(again!);
    await receiver.close();
  });

  it("dead-letters with reason, description and properties into <queue>/$DeadLetterQueue, readable by the SDK", async () => {
    const { receiver, m } = await sendAndReceive("dead", { order: 7 });
    await receiver.deadLetterMessage(m, {
      deadLetterReason: "InvalidPayload",
      deadLetterErrorDescription: "order 7 has no lines",
      customerTier: "gold",
    });
    assert.equal(entityStats(broker, "dead").deadLettered, 1);
    const dlq = client.createReceiver("dead", { subQueueType: "deadLetter" });
    const [d] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.deepEqual(d?.body, { order: 7 });
    assert.equal(d?.deadLetterReason, "InvalidPayload");
    assert.equal(d?.deadLetterErrorDescription, "order 7 has no lines");
    assert.equal(d?.applicationProperties?.customerTier, "gold");
    await dlq.completeMessage(d!);
    assert.equal(entityStats(broker, "dead").deadLettered, 0);
    await dlq.close();
    await receiver.close();
  });

  it("defers a message, hides it from receivers, and returns it by sequence number", async () => {
    const { receiver, m } = await sendAndReceive("defer", "later");
    await receiver.deferMessage(m);
    assert.equal(entityStats(broker, "defer").deferred, 1);
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 }), []);
    const [d] = await receiver.receiveDeferredMessages(m.sequenceNumber!);
    assert.equal(d?.body, "later");
    assert.equal(d?.state, "deferred");
    await receiver.completeMessage(d!);
    assert.equal(entityStats(broker, "defer").deferred + entityStats(broker, "defer").locked, 0);
    await assert.rejects(
      receiver.receiveDeferredMessages(m.sequenceNumber!),
      (e) => isServiceBusError(e) && e.code === "MessageNotFound",
      "a completed deferred message is gone",
    );
    await receiver.close();
  });

  it("renews a lock so the message outlives its LockDuration", async () => {
    await client.createSender("renew").sendMessages({ body: "r" });
    const receiver = client.createReceiver("renew", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    const before = m!.lockedUntilUtc!.getTime();
    await sleep(400);
    const renewed = await receiver.renewMessageLock(m!);
    assert.ok(renewed.getTime() > before, "locked-until moved forward");
    await sleep(800); // past the original lock, within the renewed one
    await receiver.completeMessage(m!);
    assert.equal(entityStats(broker, "renew").active + entityStats(broker, "renew").locked, 0);
    await receiver.close();
  });

  it("redelivers a message whose lock expired, with delivery count + 1", async () => {
    await client.createSender("expire").sendMessages({ body: "e" });
    const receiver = client.createReceiver("expire", { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(first?.deliveryCount, 0);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    assert.equal(second?.deliveryCount, 1);
    assert.notEqual(second?.lockToken, first?.lockToken);
    await receiver.completeMessage(second!);
    await receiver.close();
  });

  it("refuses to settle after the lock expired with MessageLockLost, and the message is still there", async () => {
    await client.createSender("lost").sendMessages({ body: "l" });
    const receiver = client.createReceiver("lost", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await sleep(500);
    await assert.rejects(
      receiver.completeMessage(m!),
      (e) => isServiceBusError(e) && e.code === "MessageLockLost",
    );
    await assert.rejects(
      receiver.renewMessageLock(m!),
      (e) => isServiceBusError(e) && e.code === "MessageLockLost",
    );
    assert.equal(entityStats(broker, "lost").active, 1);
    await receiver.close();
  });

  it("dead-letters with reason MaxDeliveryCountExceeded after MaxDeliveryCount deliveries", async () => {
    const { receiver, m } = await sendAndReceive("maxdc");
    await receiver.abandonMessage(m);
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.abandonMessage(again!);
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 }), []);
    const dlq = client.createReceiver("maxdc", {
      subQueueType: "deadLetter",
      receiveMode: "receiveAndDelete",
    });
    const [d] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(d?.deadLetterReason, "MaxDeliveryCountExceeded");
    await dlq.close();
    await receiver.close();
  });

  it("dead-letters an expired message with TTLExpiredException when DeadLetteringOnMessageExpiration is on", async () => {
    await client.createSender("ttl").sendMessages({ body: "old" });
    await eventually("message expired to the DLQ", () => entityStats(broker, "ttl").deadLettered === 1);
    assert.equal(entityStats(broker, "ttl").active, 0);
    const dlq = client.createReceiver("ttl", { subQueueType: "deadLetter", receiveMode: "receiveAndDelete" });
    const [d] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(d?.body, "old");
    assert.equal(d?.deadLetterReason, "TTLExpiredException");
    await dlq.close();
  });

  it("drops an expired message when dead-lettering on expiry is off, and honours a shorter per-message TTL", async () => {
    await client.createSender("ttl-drop").sendMessages({ body: "gone" });
    await client.createSender("expire").sendMessages({ body: "short", timeToLive: 100 });
    await eventually(
      "both expired",
      () => entityStats(broker, "ttl-drop").active === 0 && entityStats(broker, "expire").active === 0,
    );
    assert.equal(entityStats(broker, "ttl-drop").deadLettered, 0);
  });

  it("keeps messages locked by a closed connection until their lock expires, then redelivers them", async () => {
    const other = tokenClient(broker, credentialFor("app"));
    await other.createSender("after-close").sendMessages({ body: "kept" });
    const r = other.createReceiver("after-close", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.ok(m);
    await other.close();
    assert.equal(entityStats(broker, "after-close").locked, 1, "closing released nothing early");
    const receiver = client.createReceiver("after-close", { receiveMode: "receiveAndDelete" });
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    assert.equal(again?.body, "kept");
    assert.equal(again?.deliveryCount, 1);
    await receiver.close();
  });
});
