/**
 * Session receivers on the wire, with bare rhea: the attach answer (the session filter echoed with the granted
 * session id, in the form the client sent it; com.microsoft:locked-until-utc as .NET ticks), the held attach of an
 * accept-next and its com.microsoft:timeout refusal, the detach when a session lock expires, and the session
 * operations' $management shapes.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { Connection, Receiver } from "rhea";

import { isTyped, type Typed } from "../../broker/amqp-sections.ts";
import type { Broker } from "../../broker/index.ts";
import { authorizedConnection, opened, refused, requestResponse, types } from "./raw-amqp.ts";
import { connectionStringClient, emulatorConfig, queue, removeTestCa, startTestBroker } from "./support.ts";

const FILTER = "com.microsoft:session-filter";
/** go-amqp's descriptor for the session filter (azservicebus sends its value described). */
const GO_SESSION_FILTER_CODE = 0x0000_0137_0000_000c;

const ticksToMs = (long: unknown) =>
  Number((Buffer.from(long as Buffer).readBigInt64BE() - 621_355_968_000_000_000n) / 10_000n);

describe("session receivers on the wire", () => {
  let broker: Broker;
  let connection: Connection;

  before(async () => {
    broker = await startTestBroker(
      emulatorConfig([
        queue("wire-sessions", { RequiresSession: true }),
        queue("wire-empty", { RequiresSession: true }),
        queue("wire-expiry", { RequiresSession: true, LockDuration: "PT0.5S" }),
      ]),
    );
    const client = connectionStringClient(broker);
    const sender = client.createSender("wire-sessions");
    await sender.sendMessages(["A", "B", "C"].map((s) => ({ body: s, sessionId: s })));
    await client.createSender("wire-expiry").sendMessages({ body: "e", sessionId: "E" });
    await client.close();
    connection = await authorizedConnection(broker.plainPort!, "");
  });
  after(async () => {
    connection.close();
    await broker.close();
    await removeTestCa();
  });

  const sessionReceiver = (
    address: string,
    filterValue: unknown,
    properties?: Record<string, unknown>,
  ): Receiver =>
    connection.open_receiver({
      source: { address, filter: { [FILTER]: filterValue } },
      ...(properties ? { properties } : {}),
      autoaccept: false,
      credit_window: 0,
    } as never);

  it("answers a named session's attach with the filter echoed as a string and the lock's expiry in .NET ticks", async () => {
    const receiver = sessionReceiver("wire-sessions", "A");
    await opened(receiver);
    const source = receiver.source as { filter: Record<string, unknown> };
    assert.equal(source.filter[FILTER], "A");
    const lockedUntil = (receiver.properties as Record<string, unknown>)["com.microsoft:locked-until-utc"];
    assert.ok(
      Buffer.isBuffer(lockedUntil) && lockedUntil.length === 8,
      "an AMQP long beyond 2^53 (rhea: 8 bytes)",
    );
    const ahead = ticksToMs(lockedUntil) - Date.now();
    assert.ok(ahead > 4000 && ahead <= 5000, `locked for ${ahead} ms of the queue's 5 s`);
    receiver.close();
  });

  it("answers a next-available attach (null filter) with the id of the session it locked", async () => {
    const held = sessionReceiver("wire-sessions", "B");
    await opened(held);
    const receiver = sessionReceiver("wire-sessions", null);
    await opened(receiver);
    const granted = (receiver.source as { filter: Record<string, unknown> }).filter[FILTER];
    assert.ok(granted === "A" || granted === "C", `granted ${String(granted)}, not the held session B`);
    held.close();
    receiver.close();
  });

  it("echoes a described session filter (Go's form) described, with the same descriptor", async () => {
    const receiver = sessionReceiver(
      "wire-sessions",
      types.described_nc(types.wrap_ulong(GO_SESSION_FILTER_CODE) as never, types.wrap_string("C") as never),
    );
    await opened(receiver);
    const echoed = (receiver.source as { filter: Record<string, unknown> }).filter[FILTER] as Typed;
    assert.ok(isTyped(echoed) && echoed.descriptor !== undefined, "described");
    assert.equal(Number(echoed.descriptor.value), GO_SESSION_FILTER_CODE);
    assert.equal(echoed.value, "C");
    receiver.close();
  });

  it("holds an accept-next attach while no session is available, then refuses it with com.microsoft:timeout", async () => {
    const started = Date.now();
    let attachedAt: number | undefined;
    const receiver = sessionReceiver("wire-empty", null, { "com.microsoft:timeout": types.wrap_uint(400) });
    receiver.once("receiver_open", () => (attachedAt = Date.now()));
    const error = await refused(receiver);
    assert.equal(error.condition, "com.microsoft:timeout");
    assert.ok(
      attachedAt !== undefined && attachedAt - started >= 350,
      `answered after ${attachedAt! - started} ms`,
    );
  });

  it("refuses a second receiver for a locked session with com.microsoft:session-cannot-be-locked", async () => {
    const first = sessionReceiver("wire-sessions", "A");
    await opened(first);
    const error = await refused(sessionReceiver("wire-sessions", "A"));
    assert.equal(error.condition, "com.microsoft:session-cannot-be-locked");
    assert.match(
      error.description,
      /^The requested session 'A' cannot be accepted\. It may be locked by another receiver\./,
    );
    first.close();
  });

  it("detaches the receiver with com.microsoft:session-lock-lost when its session lock expires", async () => {
    const receiver = sessionReceiver("wire-expiry", "E");
    await opened(receiver);
    const error = await refused(receiver, 3000);
    assert.equal(error.condition, "com.microsoft:session-lock-lost");
  });

  it("answers the session operations on $management, and SessionLockLost to a link that does not hold the session", async () => {
    const receiver = sessionReceiver("wire-sessions", "B");
    await opened(receiver);
    const management = await requestResponse(connection, "wire-sessions/$management", "target");
    const request = (operation: string, body: Record<string, unknown>, link = receiver.name) =>
      management.request({
        message_id: randomUUID(),
        application_properties: { operation, "associated-link-name": link },
        body,
      });
    const status = (reply: { application_properties?: Record<string, unknown> }) =>
      reply.application_properties?.statusCode;

    const renewed = await request("com.microsoft:renew-session-lock", { "session-id": "B" });
    assert.equal(status(renewed), 200);
    assert.ok(
      (renewed.body as { expiration: unknown }).expiration instanceof Date,
      "expiration is a timestamp",
    );

    const state = Buffer.from('{"step":2}');
    assert.equal(
      status(await request("com.microsoft:set-session-state", { "session-id": "B", "session-state": state })),
      200,
    );
    const got = await request("com.microsoft:get-session-state", { "session-id": "B" });
    assert.deepEqual((got.body as { "session-state": Buffer })["session-state"], state);

    const stranger = await request("com.microsoft:get-session-state", { "session-id": "B" }, "someone-else");
    assert.equal(status(stranger), 410);
    assert.equal(String(stranger.application_properties?.errorCondition), "com.microsoft:session-lock-lost");

    const listed = await request("com.microsoft:get-message-sessions", {
      "last-updated-time": new Date(0),
      skip: types.wrap_int(0),
      top: types.wrap_int(10),
    });
    assert.deepEqual([...(listed.body as { "sessions-ids": string[] })["sessions-ids"]].sort(), [
      "A",
      "B",
      "C",
    ]);
    receiver.close();
    management.sender.close();
    management.receiver.close();
  });
});
