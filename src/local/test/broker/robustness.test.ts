import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import type { Receiver } from "rhea";

import type { Broker } from "../../broker/index.ts";
import { authorizedConnection } from "./raw-amqp.ts";
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

describe("robustness", () => {
  let broker: Broker;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("raw"), queue("alive")]));
  });
  after(async () => {
    await broker.close();
    await removeTestCa();
  });

  it("never pushes more messages than the client granted, and answers drain by giving the rest of the credit back", async () => {
    const client = connectionStringClient(broker);
    await client.createSender("raw").sendMessages(Array.from({ length: 5 }, (_, i) => ({ body: i })));
    await client.close();

    // A bare rhea client lets the test control link credit and drain precisely, which the SDK does not expose.
    const connection = await authorizedConnection(broker.plainPort!, "raw");
    const receiver: Receiver = connection.open_receiver({
      source: { address: "raw" },
      credit_window: 0,
      autoaccept: false,
    } as never);
    let received = 0;
    receiver.on("message", () => received++);
    await new Promise((r) => receiver.once("receiver_open", r));
    receiver.add_credit(2);
    await sleep(300);
    assert.equal(received, 2);
    assert.equal(entityStats(broker, "raw").locked, 2);

    const r = receiver as unknown as { drain: boolean; add_credit(n: number): void; credit: number };
    r.add_credit(3);
    await eventually("3 more", () => received === 5);
    r.add_credit(4);
    r.drain = true;
    r.add_credit(0);
    (receiver as unknown as { drain_credit(): void }).drain_credit();
    await new Promise((resolve) => receiver.once("receiver_drained", resolve));
    assert.equal(r.credit, 0, "drain returned the unused credit");
    assert.equal(received, 5);
    connection.close();
  });

  it("closes only the connection that sends garbage; other clients keep working", async () => {
    const client = connectionStringClient(broker);
    const sender = client.createSender("alive");
    await sender.sendMessages({ body: "before" });

    for (const bytes of [
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.concat([Buffer.from("AMQP\x03\x01\x00\x00", "binary"), Buffer.alloc(64, 0xff)]),
      Buffer.concat([
        Buffer.from("AMQP\x00\x01\x00\x00", "binary"),
        Buffer.from([0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x99, 0x45]),
      ]),
    ]) {
      const socket = net.connect(broker.plainPort!, "127.0.0.1");
      socket.on("error", () => {});
      socket.resume(); // read the broker's replies so its close is seen
      socket.write(bytes);
      await new Promise((r) => socket.once("close", r));
    }

    await sender.sendMessages({ body: "after" });
    assert.equal(entityStats(broker, "alive").active, 2);
    await client.close();
  });

  it("serves many concurrent connections and links", async () => {
    const clients = Array.from({ length: 20 }, () => connectionStringClient(broker));
    await Promise.all(clients.map((c, i) => c.createSender("alive").sendMessages({ body: `c${i}` })));
    assert.equal(entityStats(broker, "alive").active, 22);
    await Promise.all(clients.map((c) => c.close()));
  });
});
