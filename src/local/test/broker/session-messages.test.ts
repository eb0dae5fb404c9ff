/**
 * Messages of session entities through the unchanged @azure/service-bus SDK: peek, deferral, dead-lettering and
 * receive-and-delete within a session (the SDK's deferredMessage, peekMessagesOptions, receiveAndDeleteMode and
 * listMessageSessions specs on session entities), sessions on topic subscriptions, and what Azure refuses.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { isServiceBusError, type ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  queue,
  removeTestCa,
  startTestBroker,
} from "./support.ts";

const SESSIONS = { RequiresSession: true } as const;

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: isServiceBusError(error) ? error.code : "not a ServiceBusError", message: String(error) };
  }
  return { code: "no error", message: "" };
}

describe("messages of session entities", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig(
        [
          queue("peek", SESSIONS),
          queue("defer", SESSIONS),
          queue("dead-letter", SESSIONS),
          queue("poison", { ...SESSIONS, MaxDeliveryCount: 2 }),
          queue("delete", SESSIONS),
          queue("refuse", SESSIONS),
          queue("list", SESSIONS),
          queue("scheduled", SESSIONS),
        ],
        [
          {
            Name: "orders-topic",
            Subscriptions: [
              { Name: "by-order", Properties: { RequiresSession: true, LockDuration: "PT5S" } },
              { Name: "all", Properties: { LockDuration: "PT5S" } },
            ],
          },
        ],
      ),
    );
    client = connectionStringClient(broker);
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("peeks one session's messages, locked and deferred ones included, and nothing of other sessions", async () => {
    await client.createSender("peek").sendMessages([
      { body: "p1", sessionId: "P" },
      { body: "q1", sessionId: "Q" },
      { body: "p2", sessionId: "P" },
      { body: "p3", sessionId: "P" },
    ]);
    const receiver = await client.acceptSession("peek", "P");
    const [locked, toDefer] = await receiver.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    await receiver.deferMessage(toDefer!);
    const peeked = await receiver.peekMessages(10);
    assert.deepEqual(
      peeked.map((m) => [m.body, m.sessionId]),
      [
        ["p1", "P"],
        ["p2", "P"],
        ["p3", "P"],
      ],
    );
    assert.equal(peeked[1]?.state, "deferred");
    assert.deepEqual(
      await receiver.peekMessages(10),
      [],
      "the peek cursor moved past the session's last message",
    );
    await receiver.completeMessage(locked!);
    await receiver.close();
  });

  it("receives a deferred message of the session by sequence number and settles it through $management", async () => {
    await client.createSender("defer").sendMessages([
      { body: "later", sessionId: "D" },
      { body: "other", sessionId: "E" },
    ]);
    const receiver = await client.acceptSession("defer", "D");
    const [m] = await receiver.receiveMessages(1);
    await receiver.deferMessage(m!);
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 }), []);
    const [deferred] = await receiver.receiveDeferredMessages(m!.sequenceNumber!);
    assert.equal(deferred?.body, "later");
    assert.equal(deferred?.sessionId, "D");
    await receiver.completeMessage(deferred!);
    // Sequence numbers are the entity's: session E's message came right after this one.
    const notMine = await failure(receiver.receiveDeferredMessages(m!.sequenceNumber!.add(1)));
    assert.equal(
      notMine.code,
      "MessageNotFound",
      "another session's message is not this session's to receive",
    );
    await receiver.close();
    assert.equal(entityStats(broker, "defer").deferred, 0);
  });

  it("dead-letters within a session: the message leaves the session and keeps its session id in the dead-letter queue", async () => {
    await client.createSender("dead-letter").sendMessages({ body: "bad", sessionId: "X" });
    const receiver = await client.acceptSession("dead-letter", "X");
    const [m] = await receiver.receiveMessages(1);
    await receiver.deadLetterMessage(m!, {
      deadLetterReason: "Invalid",
      deadLetterErrorDescription: "bad order",
    });
    await receiver.close();
    const dlq = client.createReceiver("dead-letter", { subQueueType: "deadLetter" });
    const [dead] = await dlq.receiveMessages(1);
    assert.deepEqual(
      [dead?.body, dead?.sessionId, dead?.deadLetterReason, dead?.deadLetterErrorDescription],
      ["bad", "X", "Invalid", "bad order"],
    );
    await dlq.completeMessage(dead!);
    await dlq.close();
  });

  it("dead-letters a message of a session past MaxDeliveryCount", async () => {
    await client.createSender("poison").sendMessages({ body: "poison", sessionId: "P" });
    for (let i = 0; i < 2; i++) {
      const receiver = await client.acceptSession("poison", "P");
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
      await receiver.abandonMessage(m!);
      await receiver.close();
    }
    assert.equal(entityStats(broker, "poison").active, 0);
    assert.equal(entityStats(broker, "poison").deadLettered, 1);
  });

  it("receives and deletes within a session", async () => {
    await client.createSender("delete").sendMessages([
      { body: 1, sessionId: "R" },
      { body: 2, sessionId: "R" },
    ]);
    const receiver = await client.acceptSession("delete", "R", { receiveMode: "receiveAndDelete" });
    const messages = await receiver.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      messages.map((m) => m.body),
      [1, 2],
    );
    await receiver.close();
    const stats = entityStats(broker, "delete");
    assert.equal(stats.active + stats.locked, 0);
  });

  it("refuses a sessionless receiver on a session queue, with Azure's words", async () => {
    const error = await failure(client.createReceiver("refuse").receiveMessages(1));
    assert.match(
      error.message,
      /It is not possible for an entity that requires sessions to create a non-sessionful message receiver\./,
    );
  });

  it("refuses a message without a session id, a whole batch with one, and a scheduled one, with Azure's words", async () => {
    const sender = client.createSender("refuse");
    const words = /The SessionId was not set on a message, and it cannot be sent to the entity\./;
    assert.match((await failure(sender.sendMessages({ body: "lost" }))).message, words);
    const batch = [{ body: "ok", sessionId: "S" }, { body: "lost" }];
    assert.match((await failure(sender.sendMessages(batch))).message, words);
    assert.match(
      (await failure(sender.scheduleMessages({ body: "later" }, new Date(Date.now() + 60_000)))).message,
      words,
    );
    assert.equal(entityStats(broker, "refuse").active + entityStats(broker, "refuse").scheduled, 0);
  });

  it("schedules a message into its session, where it becomes available when due", async () => {
    await client
      .createSender("scheduled")
      .scheduleMessages({ body: "due", sessionId: "T" }, new Date(Date.now() + 300));
    const receiver = await client.acceptNextSession("scheduled");
    assert.equal(receiver.sessionId, "T", "accept-next waited for the scheduled message's session");
    const [m] = await receiver.receiveMessages(1);
    assert.equal(m?.body, "due");
    await receiver.completeMessage(m!);
    await receiver.close();
  });

  it("routes topic messages into a subscription's sessions, and dead-letters those without a session id there", async () => {
    const sender = client.createSender("orders-topic");
    await sender.sendMessages([
      { body: "o1-a", sessionId: "order-1" },
      { body: "no session" },
      { body: "o1-b", sessionId: "order-1" },
    ]);
    const receiver = await client.acceptSession("orders-topic", "by-order", "order-1");
    const messages = await receiver.receiveMessages(5, { maxWaitTimeInMs: 1000 });
    assert.deepEqual(
      messages.map((m) => m.body),
      ["o1-a", "o1-b"],
    );
    for (const m of messages) await receiver.completeMessage(m);
    await receiver.close();
    assert.equal(
      entityStats(broker, "orders-topic/subscriptions/all").active,
      3,
      "a plain subscription takes all",
    );
    const dlq = client.createReceiver("orders-topic", "by-order", { subQueueType: "deadLetter" });
    const [dead] = await dlq.receiveMessages(1);
    assert.deepEqual(
      [dead?.body, dead?.deadLetterReason, dead?.deadLetterErrorDescription],
      [
        "no session",
        "Session id is null.",
        "Session enabled entity doesn't allow a message whose session identifier is null.",
      ],
    );
    await dlq.close();
  });

  it("lists the sessions with messages or state (get-message-sessions, through the SDK's management client)", async () => {
    await client.createSender("list").sendMessages([
      { body: 1, sessionId: "L1" },
      { body: 2, sessionId: "L2" },
    ]);
    const management = (
      client as unknown as {
        _connectionContext: {
          getManagementClient(path: string): {
            listMessageSessions(skip: number, top: number, since?: Date): Promise<string[]>;
          };
        };
      }
    )._connectionContext.getManagementClient("list");
    assert.deepEqual((await management.listMessageSessions(0, 10)).sort(), ["L1", "L2"]);
    assert.deepEqual(await management.listMessageSessions(1, 10), ["L2"]);
    assert.deepEqual(await management.listMessageSessions(0, 10, new Date(Date.now() + 3_600_000)), []);
  });
});
