import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import rhea from "rhea";
import type { Connection, Delivery, Receiver } from "rhea";

import type { Broker } from "../../broker/index.ts";
import { authorizedConnection, opened } from "./raw-amqp.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  queue,
  removeTestCa,
  sleep,
  startTestBroker,
} from "./support.ts";

const outcomes = rhea.message as unknown as Record<string, (fields?: object) => { described(): unknown }>;

interface Confirmation {
  readonly outcome: string | undefined;
  readonly error: { condition?: string } | undefined;
}

/** Settles one delivery unsettled (rcv-settle-mode second, as .NET, Java and pyamqp's awaited settlement do) and waits for the broker's settled confirmation. */
function settleAndConfirm(delivery: Delivery, state: unknown): Promise<Confirmation> {
  return new Promise((resolve) => {
    const receiver = delivery.link as Receiver;
    const onSettled = (ctx: { delivery?: Delivery }) => {
      if (ctx.delivery !== delivery) return;
      receiver.removeListener("settled", onSettled);
      const remote = (
        delivery as unknown as {
          remote_state?: { constructor: { composite_type?: string }; error?: { condition?: string } };
        }
      ).remote_state;
      resolve({ outcome: remote?.constructor.composite_type, error: remote?.error });
    };
    receiver.on("settled", onSettled);
    delivery.update(false, state as never);
  });
}

describe("dispositions on the wire", () => {
  let broker: Broker;
  let connection: Connection;
  let receiver: Receiver;
  const deliveries: Delivery[] = [];

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([queue("d", { LockDuration: "PT0.5S" }), queue("counted")]),
    );
    connection = await authorizedConnection(broker.plainPort!, "");
    receiver = connection.open_receiver({
      source: { address: "d" },
      autoaccept: false,
      credit_window: 0,
      rcv_settle_mode: 1,
    } as never);
    receiver.on("message", (ctx) => deliveries.push(ctx.delivery!));
    await opened(receiver);
  });
  after(async () => {
    connection.close();
    await broker.close();
    await removeTestCa();
  });

  async function receiveOne(): Promise<Delivery> {
    const client = connectionStringClient(broker);
    await client.createSender("d").sendMessages({ body: "x" });
    await client.close();
    const before = deliveries.length;
    receiver.add_credit(1);
    for (let i = 0; i < 100 && deliveries.length === before; i++) await sleep(20);
    return deliveries.at(-1)!;
  }

  it("confirms each outcome with the client's own outcome and no error, and applies it", async () => {
    const seen: Array<[string, Confirmation]> = [];
    seen.push(["accepted", await settleAndConfirm(await receiveOne(), outcomes.accepted!().described())]);
    assert.equal(entityStats(broker, "d").active + entityStats(broker, "d").locked, 0, "completed");

    seen.push(["released", await settleAndConfirm(await receiveOne(), outcomes.released!().described())]);
    seen.push([
      "modified",
      await settleAndConfirm(await receiveOne(), outcomes.modified!({ delivery_failed: true }).described()),
    ]);
    assert.equal(entityStats(broker, "d").active, 2, "released and modified messages are available again");

    seen.push([
      "modified",
      await settleAndConfirm(
        await receiveOne(),
        outcomes.modified!({ undeliverable_here: true }).described(),
      ),
    ]);
    assert.equal(entityStats(broker, "d").deferred, 1, "modified with undeliverable-here defers");

    seen.push([
      "rejected",
      await settleAndConfirm(
        await receiveOne(),
        outcomes.rejected!({
          error: { condition: "com.microsoft:dead-letter", description: "bad" },
        }).described(),
      ),
    ]);
    assert.equal(entityStats(broker, "d").deadLettered, 1, "rejected dead-letters");

    for (const [sent, confirmation] of seen) {
      assert.equal(confirmation.outcome, sent, `a ${sent} disposition is confirmed as ${sent}`);
      assert.equal(confirmation.error, undefined, `the ${sent} confirmation carries no error`);
    }
  });

  it("counts a modified delivery as a failed attempt but not a released one, as AMQP says", async () => {
    const client = connectionStringClient(broker);
    await client.createSender("counted").sendMessages({ body: "count me" });
    await client.close();
    const own = connection.open_receiver({
      source: { address: "counted" },
      autoaccept: false,
      credit_window: 0,
      rcv_settle_mode: 1,
    } as never);
    await opened(own);
    const next = () =>
      new Promise<{ delivery: Delivery; count: number }>((resolve) => {
        own.once("message", (ctx) =>
          resolve({ delivery: ctx.delivery!, count: ctx.message!.delivery_count ?? 0 }),
        );
        own.add_credit(1);
      });
    const counts: number[] = [];
    for (const outcome of [outcomes.released!(), outcomes.modified!({}), outcomes.accepted!()]) {
      const { delivery, count } = await next();
      counts.push(count);
      await settleAndConfirm(delivery, outcome.described());
    }
    assert.deepEqual(counts, [0, 0, 1], "delivery-count after: nothing, released, modified");
    own.close();
  });

  it("refuses a settlement after the lock expired with rejected(message-lock-lost)", async () => {
    const delivery = await receiveOne();
    await sleep(700);
    const confirmation = await settleAndConfirm(delivery, outcomes.accepted!().described());
    assert.equal(confirmation.outcome, "rejected");
    assert.equal(confirmation.error?.condition, "com.microsoft:message-lock-lost");
  });
});
