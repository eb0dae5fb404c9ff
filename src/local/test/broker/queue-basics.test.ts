import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  credentialFor,
  emulatorConfig,
  entityStats,
  grant,
  queue,
  removeTestCa,
  startTestBroker,
  tokenClient,
} from "./support.ts";

describe("queue basics over TLS with a TokenCredential", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("q1"), queue("q2"), queue("rad")]));
    grant("owner-1", ["Send", "Listen"]);
    client = tokenClient(broker, credentialFor("owner-1"));
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("delivers a sent message peek-locked with sequence number, enqueued time, locked-until and an assigned message id", async () => {
    const sender = client.createSender("q1");
    await sender.sendMessages({
      body: { hello: "world" },
      subject: "greeting",
      applicationProperties: { a: 1 },
    });
    const receiver = client.createReceiver("q1");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.ok(m);
    assert.deepEqual(m.body, { hello: "world" });
    assert.equal(m.subject, "greeting");
    assert.equal(m.applicationProperties?.a, 1);
    assert.equal(m.deliveryCount, 0);
    assert.equal(Number(m.sequenceNumber), 1);
    assert.ok(typeof m.messageId === "string" && m.messageId.length > 0);
    assert.ok(m.enqueuedTimeUtc && Math.abs(m.enqueuedTimeUtc.getTime() - Date.now()) < 5000);
    assert.ok(m.lockedUntilUtc && m.lockedUntilUtc.getTime() > Date.now());
    assert.match(m.lockToken ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(entityStats(broker, "q1").locked, 1);
    await receiver.completeMessage(m);
    assert.deepEqual(
      { active: entityStats(broker, "q1").active, locked: entityStats(broker, "q1").locked },
      { active: 0, locked: 0 },
    );
    await receiver.close();
    await sender.close();
  });

  it("sends a batch and receives every message in order", async () => {
    const sender = client.createSender("q2");
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 5; i++) assert.ok(batch.tryAddMessage({ body: `m${i}`, messageId: `id-${i}` }));
    await sender.sendMessages(batch);
    await sender.sendMessages([{ body: "m5" }, { body: "m6" }]);
    const receiver = client.createReceiver("q2", { receiveMode: "receiveAndDelete" });
    const got: unknown[] = [];
    while (got.length < 7) {
      const ms = await receiver.receiveMessages(7 - got.length, { maxWaitTimeInMs: 1000 });
      if (ms.length === 0) break;
      got.push(...ms.map((m) => m.body));
    }
    assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    assert.equal(entityStats(broker, "q2").active, 0);
    await receiver.close();
    await sender.close();
  });

  it("removes a message on receive in receive-and-delete mode and has no lock token", async () => {
    const sender = client.createSender("rad");
    await sender.sendMessages({ body: "x" });
    const receiver = client.createReceiver("rad", { receiveMode: "receiveAndDelete" });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(m?.body, "x");
    assert.equal(m?.lockToken, undefined);
    assert.equal(entityStats(broker, "rad").active + entityStats(broker, "rad").locked, 0);
    await receiver.close();
    await sender.close();
  });
});
