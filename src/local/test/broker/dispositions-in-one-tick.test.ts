/**
 * Settling several messages at once with the unchanged SDK: every message must end in exactly its own outcome. rhea
 * writes the dispositions of one tick together and merges consecutive delivery ids into one frame; unpatched rhea
 * 3.0.5 merged the first two of a tick whatever their outcomes (docs/upstream.md), so the second message got the
 * first one's outcome. The fates are read back at the broker: its counters, the queue, the DLQ, the deferred set.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";

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

type Outcome = "complete" | "abandon" | "deadLetter" | "defer";
const OUTCOMES: readonly Outcome[] = ["complete", "abandon", "deadLetter", "defer"];
const [C, A, D, F] = OUTCOMES as [Outcome, Outcome, Outcome, Outcome];

/**
 * A de Bruijn sequence over the four outcomes: every ordered pair, a pair of the same outcome included (two
 * dead-letters with different reasons), stands side by side somewhere; it opens with complete + abandon.
 */
const SEQUENCE: Outcome[] = [C, A, C, D, C, F, A, A, D, A, F, D, D, F, F, C];

const reasonOf = (id: string) => `reason-${id}`;
const descriptionOf = (id: string) => `description of ${id}`;

function settle(receiver: ServiceBusReceiver, m: ServiceBusReceivedMessage, outcome: Outcome): Promise<void> {
  switch (outcome) {
    case "complete":
      return receiver.completeMessage(m);
    case "abandon":
      return receiver.abandonMessage(m);
    case "deadLetter":
      return receiver.deadLetterMessage(m, {
        deadLetterReason: reasonOf(String(m.messageId)),
        deadLetterErrorDescription: descriptionOf(String(m.messageId)),
      });
    case "defer":
      return receiver.deferMessage(m);
  }
}

async function receiveAll(receiver: ServiceBusReceiver, count: number): Promise<ServiceBusReceivedMessage[]> {
  const out: ServiceBusReceivedMessage[] = [];
  while (out.length < count) {
    const batch = await receiver.receiveMessages(count - out.length, { maxWaitTimeInMs: 2000 });
    if (batch.length === 0) break;
    out.push(...batch);
  }
  return out;
}

const idsOf = (messages: ServiceBusReceivedMessage[]) => messages.map((m) => String(m.messageId)).sort();

describe("dispositions settled in the same tick", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([queue("batch", { LockDuration: "PT30S" }), queue("pairs", { LockDuration: "PT30S" })]),
    );
    grant("app", ["Send", "Listen"]);
    client = tokenClient(broker, credentialFor("app"));
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  /** Sends `count` messages with ids m00, m01 … and receives them all in peek-lock, in delivery order. */
  async function sendAndReceive(entity: string, count: number) {
    const sent = Array.from({ length: count }, (_, i) => ({
      messageId: `m${String(i).padStart(2, "0")}`,
      body: i,
    }));
    await client.createSender(entity).sendMessages(sent);
    const receiver = client.createReceiver(entity);
    const received = await receiveAll(receiver, count);
    assert.equal(received.length, count);
    return { receiver, received };
  }

  /** What the broker holds after settlement must follow `planned` (message id → outcome) exactly. */
  async function assertFatesAtBroker(
    entity: string,
    receiver: ServiceBusReceiver,
    received: ServiceBusReceivedMessage[],
    planned: Map<string, Outcome>,
  ) {
    const expected = (outcome: Outcome) =>
      [...planned]
        .filter(([, o]) => o === outcome)
        .map(([id]) => id)
        .sort();

    const stats = entityStats(broker, entity);
    assert.deepEqual(
      {
        active: stats.active,
        locked: stats.locked,
        deferred: stats.deferred,
        deadLettered: stats.deadLettered,
      },
      {
        active: expected("abandon").length,
        locked: 0,
        deferred: expected("defer").length,
        deadLettered: expected("deadLetter").length,
      },
      "the broker's counters after settlement",
    );

    const again = await receiveAll(receiver, expected("abandon").length);
    assert.deepEqual(idsOf(again), expected("abandon"), "exactly the abandoned messages are active again");
    for (const m of again) assert.equal(m.deliveryCount, 1, `${m.messageId} was delivered once before`);
    await Promise.all(again.map((m) => receiver.completeMessage(m)));

    const dlqReceiver = client.createReceiver(entity, { subQueueType: "deadLetter" });
    const dead = await receiveAll(dlqReceiver, expected("deadLetter").length);
    assert.deepEqual(
      idsOf(dead),
      expected("deadLetter"),
      "exactly the dead-lettered messages are in the DLQ",
    );
    for (const m of dead) {
      const id = String(m.messageId);
      assert.equal(m.deadLetterReason, reasonOf(id), `${id} carries its own reason`);
      assert.equal(m.deadLetterErrorDescription, descriptionOf(id), `${id} carries its own description`);
    }
    await Promise.all(dead.map((m) => dlqReceiver.completeMessage(m)));
    await dlqReceiver.close();

    const deferredNumbers = received
      .filter((m) => planned.get(String(m.messageId)) === "defer")
      .map((m) => m.sequenceNumber!);
    const deferred = await receiver.receiveDeferredMessages(deferredNumbers);
    assert.deepEqual(
      idsOf(deferred),
      expected("defer"),
      "exactly the deferred messages are receivable by number",
    );
    await Promise.all(deferred.map((m) => receiver.completeMessage(m)));

    const end = entityStats(broker, entity);
    assert.deepEqual(
      [end.active, end.locked, end.deferred, end.deadLettered],
      [0, 0, 0, 0],
      "nothing else is left",
    );
  }

  it("gives each of 40 consecutive deliveries settled in one tick its own outcome, reason and description", async () => {
    const { receiver, received } = await sendAndReceive("batch", 40);
    const planFor = (index: number) => SEQUENCE[index % SEQUENCE.length]!;
    const planned = new Map(received.map((m, i) => [String(m.messageId), planFor(i)]));

    // Every settle call starts in this one synchronous loop, so rhea writes all their dispositions in one tick.
    await Promise.all(received.map((m, i) => settle(receiver, m, planFor(i))));

    await assertFatesAtBroker("batch", receiver, received, planned);
    await receiver.close();
  });

  it("keeps both outcomes for every ordered pair of outcomes settled together in one tick", async () => {
    const pairs = OUTCOMES.flatMap((first) => OUTCOMES.map((second) => [first, second] as const));
    const { receiver, received } = await sendAndReceive("pairs", pairs.length * 2);
    const planned = new Map<string, Outcome>();

    // One tick per pair, so each pair opens its tick's batch of dispositions.
    for (const [index, [first, second]] of pairs.entries()) {
      const a = received[2 * index]!;
      const b = received[2 * index + 1]!;
      planned.set(String(a.messageId), first).set(String(b.messageId), second);
      await Promise.all([settle(receiver, a, first), settle(receiver, b, second)]);
    }

    await assertFatesAtBroker("pairs", receiver, received, planned);
    await receiver.close();
  });
});
