import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { Broker } from "../../broker/index.ts";
import { uuidToBytes } from "../../broker/lock-token.ts";
import {
  authorizedConnection,
  connect,
  opened,
  propertyWireType,
  putTokenRequest,
  requestResponse,
  sasToken,
  types,
  wireType,
} from "./raw-amqp.ts";
import { emulatorConfig, queue, removeTestCa, startTestBroker } from "./support.ts";

describe("$cbs and $management on the wire", () => {
  let broker: Broker;
  let port: number;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("q")]));
    port = broker.plainPort!;
  });
  after(async () => {
    await broker.close();
    await removeTestCa();
  });

  it("types every status code in $cbs and $management replies as AMQP int, as Azure does", async () => {
    const connection = await connect(port);
    const cbs = await requestResponse(connection, "$cbs", "name");
    const audience = `sb://localhost:${port}/q`;
    const accepted = await cbs.request(putTokenRequest(audience, sasToken(audience)));
    const refused = await cbs.request(putTokenRequest(audience, sasToken(audience, "wrong-key")));
    const management = await requestResponse(connection, "q/$management", "target");
    const peekNothing = await management.request({
      message_id: randomUUID(),
      application_properties: { operation: "com.microsoft:peek-message" },
      body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(1) },
    });
    const lockLost = await management.request({
      message_id: randomUUID(),
      application_properties: { operation: "com.microsoft:renew-lock" },
      body: { "lock-tokens": types.wrap_array([uuidToBytes(randomUUID())], 0x98, undefined) },
    });
    const unknown = await management.request({
      message_id: randomUUID(),
      application_properties: { operation: "com.microsoft:no-such-operation" },
      body: {},
    });

    assert.deepEqual(
      [accepted, refused].map((m) => [
        m.application_properties?.["status-code"],
        wireType(m, "applicationProperties", "status-code"),
      ]),
      [
        [202, "int"],
        [401, "int"],
      ],
    );
    assert.deepEqual(
      [peekNothing, lockLost, unknown].map((m) => [
        m.application_properties?.statusCode,
        wireType(m, "applicationProperties", "statusCode"),
      ]),
      [
        [204, "int"],
        [410, "int"],
        [501, "int"],
      ],
    );
    connection.close();
  });

  it("answers a put-token without reply-to (pyamqp's) on the client's reply link, with the request's uuid message-id as correlation-id", async () => {
    const connection = await connect(port);
    const cbs = await requestResponse(connection, "$cbs", "none");
    const audience = `sb://localhost:${port}/q`;
    const id = types.wrap_uuid(uuidToBytes(randomUUID()));
    const started = Date.now();
    const good = await cbs.request(putTokenRequest(audience, sasToken(audience), id), 5000);
    const bad = await cbs.request(
      putTokenRequest(audience, sasToken(audience, "wrong-key"), types.wrap_uuid(uuidToBytes(randomUUID()))),
      5000,
    );

    assert.equal(good.application_properties?.["status-code"], 202);
    assert.equal(propertyWireType(good, 5), "uuid", "correlation-id keeps the uuid type");
    assert.deepEqual(good.correlation_id, id.value);
    assert.equal(
      bad.application_properties?.["status-code"],
      401,
      "a wrong SAS key is refused, not left hanging",
    );
    assert.match(String(bad.application_properties?.["status-description"]), /InvalidSignature|signature/i);
    assert.ok(Date.now() - started < 5000);
    connection.close();
  });

  it("answers $management requests without reply-to on the client's receiver from that node", async () => {
    const connection = await authorizedConnection(port, "q/$management");
    const management = await requestResponse(connection, "q/$management", "none");
    const reply = await management.request({
      message_id: types.wrap_ulong(7) as never,
      application_properties: { operation: "com.microsoft:peek-message" },
      body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(1) },
    });
    assert.equal(reply.application_properties?.statusCode, 204);
    assert.equal(propertyWireType(reply, 5), "ulong", "correlation-id keeps the ulong type");
    connection.close();
  });

  it("settles its replies, so 5 000 put-tokens and 5 000 management calls on one connection are all answered", async () => {
    const connection = await connect(port);
    const cbs = await requestResponse(connection, "$cbs", "name");
    const audience = `sb://localhost:${port}/q/$management`;
    const token = sasToken(audience);
    let answered = 0;
    for (let i = 0; i < 5000; i++) {
      const reply = await cbs.request(putTokenRequest(audience, token, `t${i}`));
      if (reply.application_properties?.["status-code"] === 202) answered++;
    }
    const management = await requestResponse(connection, "q/$management", "target");
    let peeked = 0;
    for (let i = 0; i < 5000; i++) {
      const reply = await management.request({
        message_id: `m${i}`,
        application_properties: { operation: "com.microsoft:peek-message" },
        body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(1) },
      });
      if (reply.application_properties?.statusCode === 204) peeked++;
    }
    const afterwards = await cbs.request(putTokenRequest(audience, token));
    assert.equal(answered, 5000);
    assert.equal(peeked, 5000);
    assert.equal(afterwards.application_properties?.["status-code"], 202, "the connection is still served");
    connection.close();
  });
  it("answers a sender's attach with the sender settle mode the client asked for, so .NET's pre-settled $management requests stay pre-settled", async () => {
    // Microsoft.Azure.Amqp adopts the mode of the attach answer. Its $management sender asks for settled and gives
    // every request the same empty delivery tag; answered with "mixed" it sent them unsettled, and a request sent
    // before the previous one's disposition arrived failed with "An item with the same key has already been added".
    const connection = await authorizedConnection(port, "q");
    const answered = async (address: string, mode: 0 | 1 | 2) => {
      const sender = connection.open_sender({ target: { address }, snd_settle_mode: mode } as never);
      await opened(sender);
      return sender.snd_settle_mode;
    };
    const modes = [
      await answered("q/$management", 1),
      await answered("q/$management", 0),
      await answered("q/$management", 2),
      await answered("q", 1),
      await answered("q", 0),
    ];

    const management = await requestResponse(connection, "q/$management", "target");
    const sender = connection.open_sender({
      target: { address: "q/$management" },
      snd_settle_mode: 1,
    } as never);
    await opened(sender);
    const replies = [1, 2, 3].map(
      (n) =>
        new Promise<unknown>((resolve) => {
          management.receiver.on("message", (ctx) => {
            if (ctx.message!.correlation_id === `presettled-${n}`)
              resolve(ctx.message!.application_properties?.statusCode);
          });
        }),
    );
    for (const n of [1, 2, 3]) {
      sender.send({
        message_id: `presettled-${n}`,
        reply_to: management.receiver.target.address,
        application_properties: { operation: "com.microsoft:peek-message" },
        body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(1) },
      });
    }

    assert.deepEqual(modes, [1, 0, 2, 1, 0]);
    assert.deepEqual(await Promise.all(replies), [204, 204, 204]);
    connection.close();
  });
});
