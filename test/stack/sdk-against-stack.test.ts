import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { isServiceBusError, ServiceBusClient } from "@azure/service-bus";

import { startTestStack, type TestStack } from "../support/stack.ts";

/**
 * The unchanged @azure/service-bus SDK against `keyless stack`, on what Service Bus does and the SDK's own specs
 * expect: delivery counts around deferral, the state of scheduled messages, dead-letter-queue settlement, refusals
 * without a role, and thousands of management calls and put-tokens on one connection.
 */
describe("the Node SDK against the local stack", () => {
  let stack: TestStack;
  let admin: ServiceBusClient;

  const identity = (name: string) => {
    const found = stack.tenant.findIdentity(name);
    if (!found) throw new Error(`no identity ${name}`);
    return new ManagedIdentityCredential({ clientId: found.clientId });
  };
  const namespace = () => stack.env().SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!;

  before(async () => {
    stack = await startTestStack({
      topology: {
        UserConfig: {
          Namespaces: [
            {
              Name: "sbemulatorns",
              Queues: [
                { Name: "orders", Properties: { LockDuration: "PT5S", MaxDeliveryCount: 5 } },
                { Name: "orders-bench", Properties: { LockDuration: "PT1M", MaxDeliveryCount: 10 } },
              ],
              Topics: [],
            },
          ],
          Logging: { Type: "Console" },
        },
      },
    });
    admin = stack.admin;
  });
  after(async () => {
    await stack?.close();
  });

  it("counts the delivery before a deferral: received by sequence number it shows deliveryCount 1, and 2 after an abandon", async () => {
    await stack.send("orders", { body: "defer me" });
    const receiver = admin.createReceiver("orders");
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(first?.deliveryCount, 0);
    await receiver.deferMessage(first!);
    const [deferred] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    assert.equal(deferred?.state, "deferred");
    assert.equal(deferred?.deliveryCount, 1);
    await receiver.abandonMessage(deferred!);
    const [again] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    assert.equal(again?.deliveryCount, 2);
    await receiver.completeMessage(again!);
    await receiver.close();
  });

  it("reports a message that was scheduled as scheduled when it is received", async () => {
    const sender = admin.createSender("orders");
    await sender.scheduleMessages({ body: "later" }, new Date(Date.now() + 300));
    const receiver = admin.createReceiver("orders");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(m?.body, "later");
    assert.equal(m?.state, "scheduled");
    await receiver.completeMessage(m!);
    await receiver.close();
    await sender.close();
  });

  it("peeks a message another receiver holds locked", async () => {
    await stack.send("orders", { body: "held" });
    const holder = admin.createReceiver("orders");
    const [held] = await holder.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    const peeker = new ServiceBusClient(stack.env().SERVICEBUS_CONNECTION_STRING!);
    const peeked = await peeker.createReceiver("orders").peekMessages(10);
    assert.ok(
      peeked.some((p) => Number(p.sequenceNumber) === Number(held!.sequenceNumber)),
      "the locked message is peeked",
    );
    await holder.completeMessage(held!);
    await holder.close();
    await peeker.close();
  });

  it("refuses to dead-letter a dead-lettered message with GeneralError and keeps it; abandoning one leaves its deliveryCount as it was", async () => {
    await stack.send("orders", { body: "poison" });
    const receiver = admin.createReceiver("orders");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.deadLetterMessage(m!, { deadLetterReason: "Test", deadLetterErrorDescription: "test" });
    const dlq = admin.createReceiver("orders", { subQueueType: "deadLetter" });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(dead?.deliveryCount, 0);

    await assert.rejects(dlq.deadLetterMessage(dead!), (e) => {
      assert.ok(isServiceBusError(e));
      assert.equal(e.code, "GeneralError");
      return true;
    });
    const [kept] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(kept?.messageId, dead!.messageId, "the refused message is still in the dead-letter queue");
    assert.equal(kept?.deliveryCount, 0);

    await dlq.abandonMessage(kept!);
    const [back] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(back?.deliveryCount, 0, "an abandon in a dead-letter queue does not count");
    await dlq.completeMessage(back!);
    await stack.waitForCounts("orders", (c) => c.deadLettered === 0);
    await dlq.close();
    await receiver.close();
  });

  it("refuses a managed identity without the role at once with UnauthorizedAccess naming the claim, for sending and receiving", async () => {
    // No retries: what the service says, not the SDK's retry policy (UnauthorizedAccess is retryable in core-amqp,
    // which waits retryDelayInMs, 30 s by default, between attempts, against Azure as here).
    const options = { retryOptions: { maxRetries: 0, timeoutInMs: 30_000 } };
    const worker = new ServiceBusClient(namespace(), identity("orders-worker"), options);
    const producer = new ServiceBusClient(namespace(), identity("orders-producer"), options);
    const started = Date.now();
    await assert.rejects(worker.createSender("orders").sendMessages({ body: 1 }), (e) => {
      assert.ok(isServiceBusError(e));
      assert.equal(e.code, "UnauthorizedAccess");
      assert.match(e.message, /'Send' claim\(s\) are required to perform this operation/);
      return true;
    });
    await assert.rejects(
      producer.createReceiver("orders").receiveMessages(1, { maxWaitTimeInMs: 2000 }),
      (e) => {
        assert.ok(isServiceBusError(e));
        assert.equal(e.code, "UnauthorizedAccess");
        assert.match(e.message, /'Listen' claim\(s\) are required to perform this operation/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 30_000, "refused by the broker, not by an operation timeout");
    await worker.close();
    await producer.close();
  });

  it("serves more than 5 000 management calls and 5 000 put-tokens on one connection and stays up", async () => {
    const owner = new ServiceBusClient(namespace(), identity("keyless-admin"));
    await owner.createSender("orders-bench").sendMessages({ body: "locked" });
    const receiver = owner.createReceiver("orders-bench", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    for (let i = 0; i < 5100; i++) await receiver.renewMessageLock(m!);
    // Every new link is preceded by a put-token for its audience, on the connection's one $cbs link.
    for (let i = 0; i < 5100; i++) {
      const sender = owner.createSender("orders-bench");
      await sender.sendMessages({ body: i });
      await sender.close();
    }
    await receiver.completeMessage(m!);
    const counts = await stack.waitForCounts("orders-bench", (c) => c.active === 5100);
    assert.equal(counts.locked, 0);
    const peeked = await new ServiceBusClient(stack.env().SERVICEBUS_CONNECTION_STRING!)
      .createReceiver("orders-bench")
      .peekMessages(1);
    assert.equal(peeked.length, 1, "the stack still answers a new client");
    await receiver.close();
    await owner.close();
  });
});
