import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  queue,
  removeTestCa,
  startTestBroker,
} from "./support.ts";

describe("the official emulator's connection string (plain TCP, UseDevelopmentEmulator=true)", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig(
        [queue("cs"), queue("cs-dlq"), queue("cs-sched")],
        [{ Name: "t", Subscriptions: [{ Name: "all" }] }],
      ),
    );
    client = connectionStringClient(broker);
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("sends, receives peek-locked, abandons and completes", async () => {
    await client
      .createSender("cs")
      .sendMessages({ body: { n: 1 }, messageId: "m-1", sessionId: "carried-not-required" });
    const receiver = client.createReceiver("cs");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(m?.messageId, "m-1");
    assert.equal(m?.sessionId, "carried-not-required");
    await receiver.abandonMessage(m!);
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(again?.deliveryCount, 1);
    await receiver.completeMessage(again!);
    assert.equal(entityStats(broker, "cs").active + entityStats(broker, "cs").locked, 0);
    await receiver.close();
  });

  it("dead-letters and reads the dead-letter queue", async () => {
    await client.createSender("cs-dlq").sendMessages({ body: "bad" });
    const receiver = client.createReceiver("cs-dlq");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.deadLetterMessage(m!, {
      deadLetterReason: "Poison",
      deadLetterErrorDescription: "cannot parse",
    });
    const dlq = client.createReceiver("cs-dlq", { subQueueType: "deadLetter" });
    const [d] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(d?.deadLetterReason, "Poison");
    await dlq.completeMessage(d!);
    await dlq.close();
    await receiver.close();
  });

  it("peeks, schedules and receives from a topic subscription", async () => {
    const sender = client.createSender("cs-sched");
    await sender.scheduleMessages({ body: "later" }, new Date(Date.now() + 300));
    const receiver = client.createReceiver("cs-sched", { receiveMode: "receiveAndDelete" });
    const [p] = await receiver.peekMessages(1);
    assert.equal(p?.state, "scheduled");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    assert.equal(m?.body, "later");
    await receiver.close();
    await client.createSender("t").sendMessages({ body: "to-topic" });
    const sub = client.createReceiver("t", "all", { receiveMode: "receiveAndDelete" });
    const [s] = await sub.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(s?.body, "to-topic");
    await sub.close();
  });
});
