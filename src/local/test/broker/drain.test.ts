/**
 * The broker answers every drain (AMQP 1.0 §2.7.6): it sends what it has up to the credit, then advances
 * delivery-count by the credit left, sets link-credit to 0 and sends a flow with drain set, whether or not it
 * delivered during the drain. A raw rhea receiver drives credit and drain; it records the frames the broker sends.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Connection, Receiver } from "rhea";

import type { Broker } from "../../broker/index.ts";
import { type RecordedFrame, recordIncomingFrames } from "../support/amqp-frames.ts";
import { authorizedConnection } from "./raw-amqp.ts";
import {
  connectionStringClient,
  emulatorConfig,
  eventually,
  queue,
  removeTestCa,
  sleep,
  startTestBroker,
} from "./support.ts";

/** The parts of rhea's receiver that grant credit and drain, which its typings leave out. */
interface CreditControl {
  add_credit(credit: number): void;
  drain_credit(): void;
  credit: number;
  remote: { attach: { handle: number } };
}

interface LinkFrame {
  frame: "transfer" | "flow";
  delivery_count?: number;
  link_credit?: number;
  drain?: boolean;
}

describe("drain", () => {
  let broker: Broker;
  let connection: Connection;
  let frames: RecordedFrame[];

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig(
        [queue("drain-empty"), queue("drain-some"), queue("drain-all"), queue("drain-late")],
        [],
      ),
    );
    connection = await authorizedConnection(broker.plainPort!, "");
    frames = recordIncomingFrames(connection, ["flow", "transfer"]);
  });
  after(async () => {
    connection.close();
    await broker.close();
    await removeTestCa();
  });

  async function send(entity: string, count: number) {
    const client = connectionStringClient(broker);
    await client.createSender(entity).sendMessages(Array.from({ length: count }, (_, i) => ({ body: i })));
    await client.close();
  }

  async function openReceiver(entity: string): Promise<Receiver & CreditControl> {
    const receiver = connection.open_receiver({
      source: { address: entity },
      credit_window: 0,
      autoaccept: false,
    } as never) as Receiver & CreditControl;
    await new Promise((resolve) => receiver.once("receiver_open", resolve));
    return receiver;
  }

  const onLink = (receiver: CreditControl) => (f: RecordedFrame) =>
    f.fields.handle === receiver.remote.attach.handle;
  const transfersSince = (from: number, receiver: CreditControl) =>
    frames
      .slice(from)
      .filter(onLink(receiver))
      .filter((f) => f.performative === "transfer").length;

  /** Grants `credit` (no drain) and waits until that many transfers arrived. */
  async function receiveWithCredit(receiver: Receiver & CreditControl, credit: number) {
    const from = frames.length;
    receiver.add_credit(credit);
    await eventually(`${credit} transfers`, () => transfersSince(from, receiver) === credit);
  }

  /**
   * Grants `credit` more and asks to drain in the same flow; resolves with this link's frames up to the drain answer,
   * or with what came within 2 s when none does (an unanswered drain then shows as a missing flow, not a hang).
   */
  async function drainWith(receiver: Receiver & CreditControl, credit: number): Promise<LinkFrame[]> {
    const from = frames.length;
    const drained = new Promise((resolve) => receiver.once("receiver_drained", resolve));
    receiver.add_credit(credit);
    receiver.drain_credit();
    await Promise.race([drained, sleep(2000)]);
    return frames
      .slice(from)
      .filter(onLink(receiver))
      .map(({ performative, fields }) =>
        performative === "transfer"
          ? { frame: "transfer" }
          : {
              frame: "flow",
              delivery_count: Number(fields.delivery_count),
              link_credit: Number(fields.link_credit),
              drain: Boolean(fields.drain),
            },
      );
  }

  it("answers a drain with nothing to deliver: link-credit 0, delivery-count advanced by the whole credit", async () => {
    const receiver = await openReceiver("drain-empty");
    assert.deepEqual(await drainWith(receiver, 3), [
      { frame: "flow", delivery_count: 3, link_credit: 0, drain: true },
    ]);
    receiver.close();
  });

  it("delivers what is available during a drain, then answers it with delivery-count = old count + old credit", async () => {
    await send("drain-some", 3);
    const receiver = await openReceiver("drain-some");
    await receiveWithCredit(receiver, 1);

    assert.deepEqual(await drainWith(receiver, 5), [
      { frame: "transfer" },
      { frame: "transfer" },
      { frame: "flow", delivery_count: 1 + 5, link_credit: 0, drain: true },
    ]);
    receiver.close();
  });

  it("answers a drain whose credit the deliveries use up, still with drain set", async () => {
    await send("drain-all", 2);
    const receiver = await openReceiver("drain-all");
    assert.deepEqual(await drainWith(receiver, 2), [
      { frame: "transfer" },
      { frame: "transfer" },
      { frame: "flow", delivery_count: 2, link_credit: 0, drain: true },
    ]);
    receiver.close();
  });

  it("answers a drain that reaches the broker after the transfers used its credit (they crossed on the wire)", async () => {
    await send("drain-late", 2);
    const receiver = await openReceiver("drain-late");
    await receiveWithCredit(receiver, 2);

    // The receiver's flow now says delivery-count 2, link-credit 0, drain: the broker has no credit left to give back.
    assert.deepEqual(await drainWith(receiver, 0), [
      { frame: "flow", delivery_count: 2, link_credit: 0, drain: true },
    ]);
    receiver.close();
  });
});
