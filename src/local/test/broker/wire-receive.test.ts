import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { Broker } from "../../broker/index.ts";
import { authorizedConnection, opened, refused, requestResponse, types } from "./raw-amqp.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  eventually,
  queue,
  removeTestCa,
  startTestBroker,
} from "./support.ts";

describe("receiving on the wire", () => {
  let broker: Broker;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([queue("bulk"), queue("bulk-locked"), queue("peeked"), queue("plain")]),
    );
  });
  after(async () => {
    await broker.close();
    await removeTestCa();
  });

  async function fill(entity: string, count: number): Promise<void> {
    const client = connectionStringClient(broker);
    const sender = client.createSender(entity);
    for (let sent = 0; sent < count;) {
      const batch = await sender.createMessageBatch();
      while (sent < count && batch.tryAddMessage({ body: sent })) sent++;
      await sender.sendMessages(batch);
    }
    await client.close();
  }

  it("delivers more than 5 000 messages receive-and-delete to a bare rhea receiver whose $cbs link shares its session", async () => {
    await fill("bulk", 5200);
    // rhea opens every link of a connection on one session unless told otherwise, the $cbs pair included.
    const connection = await authorizedConnection(broker.plainPort!, "bulk");
    const receiver = connection.open_receiver({ source: { address: "bulk" }, snd_settle_mode: 1 } as never);
    let received = 0;
    receiver.on("message", () => received++);
    await opened(receiver);
    await eventually("5 200 messages", () => received === 5200, 30_000);
    assert.equal(entityStats(broker, "bulk").active, 0);
    connection.close();
  });

  it("delivers more than 5 000 peek-locked messages to a bare rhea receiver that settles each on receipt", async () => {
    await fill("bulk-locked", 5200);
    const connection = await authorizedConnection(broker.plainPort!, "bulk-locked");
    const receiver = connection.open_receiver({ source: { address: "bulk-locked" } } as never);
    let received = 0;
    receiver.on("message", () => received++);
    await opened(receiver);
    await eventually("5 200 messages", () => received === 5200, 30_000);
    await eventually("all completed", () => entityStats(broker, "bulk-locked").locked === 0);
    assert.equal(entityStats(broker, "bulk-locked").active, 0);
    connection.close();
  });

  it("peeks locked messages as well as available ones, from another connection", async () => {
    await fill("peeked", 3);
    const holder = await authorizedConnection(broker.plainPort!, "peeked");
    const receiver = holder.open_receiver({
      source: { address: "peeked" },
      autoaccept: false,
      credit_window: 0,
    } as never);
    let locked = 0;
    receiver.on("message", () => locked++);
    await opened(receiver);
    receiver.add_credit(2);
    await eventually("two messages locked", () => entityStats(broker, "peeked").locked === 2);

    const peeker = await authorizedConnection(broker.plainPort!, "peeked/$management");
    const management = await requestResponse(peeker, "peeked/$management", "target");
    const reply = await management.request({
      message_id: randomUUID(),
      application_properties: { operation: "com.microsoft:peek-message" },
      body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(10) },
    });
    const messages = (reply.body as { messages: Array<{ message: Buffer }> }).messages;
    assert.equal(locked, 2);
    assert.equal(messages.length, 3, "locked messages are peeked as well as the available one");
    holder.close();
    peeker.close();
  });

  it("refuses a session receiver on an entity that does not require sessions, as Azure does", async () => {
    const connection = await authorizedConnection(broker.plainPort!, "plain");
    for (const session of ["A", null]) {
      const receiver = connection.open_receiver({
        source: {
          address: "plain",
          filter: { "com.microsoft:session-filter": session },
        },
      } as never);
      const error = await refused(receiver);
      assert.equal(error.condition, "amqp:not-allowed");
      assert.match(
        error.description,
        /^A sessionful message receiver cannot be created on an entity that does not require sessions\./,
      );
    }
    connection.close();
  });
});
