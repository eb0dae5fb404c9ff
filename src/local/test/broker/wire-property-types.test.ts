import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import rhea from "rhea";
import type { Connection, Delivery, Message, Receiver } from "rhea";

import { readSections, SECTION, TypedMap } from "../../broker/amqp-sections.ts";
import type { Broker } from "../../broker/index.ts";
import { uuidToBytes } from "../../broker/lock-token.ts";
import {
  amqpType,
  authorizedConnection,
  opened,
  receivedSections,
  requestResponse,
  types,
  wireType,
} from "./raw-amqp.ts";
import { emulatorConfig, queue, removeTestCa, sleep, startTestBroker } from "./support.ts";

const t = types as unknown as Record<string, (v?: unknown) => unknown>;

/** One application property per AMQP primitive type, encoded as Java, .NET and Python encode them. */
const EVERY_PRIMITIVE: Record<string, [unknown, string]> = {
  null: [null, "null"],
  true: [true, "boolean"],
  boolByte: [t.Boolean!(1), "boolean"], // 0x56 0x01, the one-byte form pyamqp writes
  ubyte: [types.wrap_ubyte(200), "ubyte"],
  ushort: [types.wrap_ushort(60000), "ushort"],
  uint: [types.wrap_uint(7), "uint"],
  ulong: [types.wrap_ulong(7), "ulong"],
  byte: [types.wrap_byte(-7), "byte"],
  short: [types.wrap_short(-7), "short"],
  int: [types.wrap_int(7), "int"],
  long: [types.wrap_long(7), "long"],
  float: [types.wrap_float(1.5), "float"],
  double: [types.wrap_double(3.0), "double"],
  decimal32: [t.Decimal32!(Buffer.from("3040007b", "hex")), "decimal32"],
  decimal64: [t.Decimal64!(Buffer.from("31c000000000007b", "hex")), "decimal64"],
  decimal128: [t.Decimal128!(Buffer.alloc(16, 1)), "decimal128"],
  char: [types.wrap_char(0x1f600), "char"],
  timestamp: [types.wrap_timestamp(1_700_000_000_000), "timestamp"],
  uuid: [types.wrap_uuid(uuidToBytes(randomUUID())), "uuid"],
  binary: [Buffer.from([1, 2, 3]), "binary"],
  string: ["text", "string"],
  symbol: [types.wrap_symbol("sym"), "symbol"],
};

describe("AMQP types on the wire", () => {
  let broker: Broker;
  let connection: Connection;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("types")]));
    connection = await authorizedConnection(broker.plainPort!, "");
  });
  after(async () => {
    connection.close();
    await broker.close();
    await removeTestCa();
  });

  async function send(message: Message): Promise<void> {
    const sender = connection.open_sender({ target: { address: "types" } });
    await opened(sender);
    await new Promise<void>((resolve, reject) => {
      sender.once("accepted", () => resolve());
      sender.once("rejected", (ctx) => reject(new Error(JSON.stringify(ctx.delivery?.remote_state))));
      sender.send(message);
    });
    sender.close();
  }

  /** One message on a fresh link with credit for exactly one (rhea's credit window would take more). */
  async function receive(): Promise<{ message: Message; delivery: Delivery; receiver: Receiver }> {
    const receiver = connection.open_receiver({
      source: { address: "types" },
      autoaccept: false,
      credit_window: 0,
    } as never);
    receiver.add_credit(1);
    return new Promise((resolve) =>
      receiver.once("message", (ctx) =>
        resolve({ message: ctx.message!, delivery: ctx.delivery!, receiver }),
      ),
    );
  }

  const properties = () =>
    Object.fromEntries(Object.entries(EVERY_PRIMITIVE).map(([k, [v]]) => [k, v])) as Record<string, unknown>;

  it("delivers every application-property type, the message-id type and the body exactly as sent", async () => {
    const body = rhea.message.data_section(Buffer.from("binary body"));
    const id = types.wrap_uuid(uuidToBytes(randomUUID()));
    await send({ message_id: id as never, application_properties: properties(), body });
    const { message, delivery, receiver } = await receive();

    const types_ = Object.fromEntries(
      Object.keys(EVERY_PRIMITIVE).map((k) => [k, wireType(message, "applicationProperties", k)]),
    );
    assert.deepEqual(
      types_,
      Object.fromEntries(Object.entries(EVERY_PRIMITIVE).map(([k, [, type]]) => [k, type])),
    );
    const sent = readSections(
      rhea.message.encode({ message_id: id as never, application_properties: properties(), body }),
    );
    const got = receivedSections(message);
    for (const code of [SECTION.properties, SECTION.applicationProperties, 0x75]) {
      assert.deepEqual(
        got.find((s) => s.code === code)?.bytes,
        sent.find((s) => s.code === code)?.bytes,
        `section 0x${code.toString(16)} arrives byte for byte`,
      );
    }
    delivery.accept();
    receiver.close();
  });

  it("keeps amqp-value and amqp-sequence bodies and their element types", async () => {
    await send({ body: types.wrap_long(42) as never });
    await send({ body: rhea.message.sequence_section([types.wrap_int(1), types.wrap_double(2)]) });
    const first = await receive();
    assert.equal(amqpType(receivedSections(first.message).find((s) => s.code === 0x77)?.typed), "long");
    first.delivery.accept();
    first.receiver.close();
    const second = await receive();
    const sequence = receivedSections(second.message).find((s) => s.code === 0x76)?.typed.value as unknown[];
    assert.deepEqual(
      sequence.map((v) => amqpType(v as never)),
      ["int", "double"],
    );
    second.delivery.accept();
    second.receiver.close();
  });

  it("keeps the types of properties a client adds when it abandons or dead-letters, and of what peek returns", async () => {
    await send({ application_properties: { original: types.wrap_int(1) }, body: "x" });
    const first = await receive();
    first.delivery.update(
      true,
      (rhea.message as unknown as { modified(f: object): { described(): unknown } })
        .modified({ message_annotations: { retriedAt: types.wrap_long(5), flag: t.Boolean!(1) } })
        .described() as never,
    );
    first.receiver.close();
    await sleep(50);

    const management = await requestResponse(connection, "types/$management", "target");
    const peek = await management.request({
      message_id: randomUUID(),
      application_properties: { operation: "com.microsoft:peek-message" },
      body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(10) },
    });
    const peeked = (peek.body as { messages: Array<{ message: Buffer }> }).messages.map((m) =>
      TypedMap.of(readSections(m.message).find((s) => s.code === SECTION.applicationProperties)?.typed),
    );
    const abandoned = peeked.find((p) => p.get("retriedAt"))!;
    assert.deepEqual(
      ["original", "retriedAt", "flag"].map((k) => amqpType(abandoned.get(k))),
      ["int", "long", "boolean"],
    );

    const again = await receive();
    again.delivery.update(
      true,
      (rhea.message as unknown as { rejected(f: object): { described(): unknown } })
        .rejected({
          error: {
            condition: "com.microsoft:dead-letter",
            info: { DeadLetterReason: "bad", attempt: types.wrap_short(3) },
          },
        })
        .described() as never,
    );
    again.receiver.close();
    await sleep(50);
    const dlq = connection.open_receiver({
      source: { address: "types/$DeadLetterQueue" },
      credit_window: 1,
    } as never);
    const dead = await new Promise<Message>((resolve) => dlq.once("message", (ctx) => resolve(ctx.message!)));
    assert.equal(dead.application_properties?.DeadLetterReason, "bad");
    assert.deepEqual(
      ["original", "retriedAt", "attempt"].map((k) => wireType(dead, "applicationProperties", k)),
      ["int", "long", "short"],
    );
    dlq.close();
  });
});
