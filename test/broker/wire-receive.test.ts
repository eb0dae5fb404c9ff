import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Broker } from "../../src/local/broker/index.ts";
import { authorizedConnection, opened } from "./raw-amqp.ts";
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
    broker = await startTestBroker(emulatorConfig([queue("bulk"), queue("bulk-locked")]));
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
});
