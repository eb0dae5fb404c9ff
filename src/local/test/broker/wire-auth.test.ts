import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { Connection } from "rhea";

import type { Broker } from "../../broker/index.ts";
import { connect, putTokenRequest, refused, requestResponse, sasToken, types } from "./raw-amqp.ts";
import { emulatorConfig, grant, queue, removeTestCa, signToken, startTestBroker } from "./support.ts";

describe("refusals without a role, on the wire", () => {
  let broker: Broker;
  let connection: Connection;
  let namespace: string;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("orders")]));
    grant("wire-listener", ["Listen"], "orders");
    grant("wire-sender", ["Send"], "orders");
    namespace = `sb://localhost:${broker.plainPort}`;
  });
  after(async () => {
    await broker.close();
    await removeTestCa();
  });

  /** A connection that proved `principal` with a JWT for the whole namespace, as Entra tokens for Service Bus do. */
  async function connectedAs(principal: string): Promise<Connection> {
    connection = await connect(broker.plainPort!);
    const cbs = await requestResponse(connection, "$cbs", "name");
    const { token } = await signToken(principal, 3600);
    for (const path of ["orders", "orders/$management"]) {
      const reply = await cbs.request(putTokenRequest(`${namespace}/${path}`, token));
      assert.equal(reply.application_properties?.["status-code"], 202, "the token itself is valid");
    }
    return connection;
  }

  it("accepts Service Bus's own SASL mechanism, MSSBCBS, the only one .NET's Microsoft.Azure.Amqp offers", async () => {
    const c = await connect(broker.plainPort!, "MSSBCBS");
    const cbs = await requestResponse(c, "$cbs", "target");
    const audience = `${namespace}/orders`;
    const reply = await cbs.request(putTokenRequest(audience, sasToken(audience)));
    assert.equal(reply.application_properties?.["status-code"], 202, "authorisation then follows on $cbs");
    c.close();
  });

  it("refuses a sender attach without the Send role at once, with Azure's condition and wording", async () => {
    const c = await connectedAs("wire-listener");
    const error = await refused(c.open_sender({ target: { address: "orders" } }), 2000);
    assert.equal(error.condition, "amqp:unauthorized-access");
    assert.match(
      error.description,
      new RegExp(
        `^Unauthorized access\\. 'Send' claim\\(s\\) are required to perform this operation\\. Resource: '${namespace}/orders'\\. TrackingId:`,
      ),
    );
    c.close();
  });

  it("refuses a receiver attach without the Listen role at once, naming the 'Listen' claim", async () => {
    const c = await connectedAs("wire-sender");
    const error = await refused(c.open_receiver({ source: { address: "orders" } } as never), 2000);
    assert.equal(error.condition, "amqp:unauthorized-access");
    assert.match(error.description, /'Listen' claim\(s\) are required to perform this operation/);
    c.close();
  });

  it("answers a $management operation without the Listen role with 401 and amqp:unauthorized-access", async () => {
    const c = await connectedAs("wire-sender");
    const management = await requestResponse(c, "orders/$management", "target");
    const reply = await management.request(
      {
        message_id: randomUUID(),
        application_properties: { operation: "com.microsoft:peek-message" },
        body: { "from-sequence-number": types.wrap_long(1), "message-count": types.wrap_int(1) },
      },
      2000,
    );
    assert.equal(reply.application_properties?.statusCode, 401);
    assert.equal(reply.application_properties?.errorCondition, "amqp:unauthorized-access");
    assert.match(String(reply.application_properties?.statusDescription), /'Listen' claim\(s\) are required/);
    c.close();
  });
});
