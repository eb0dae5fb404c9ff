import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { isServiceBusError, type ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  connectionStringClient,
  credentialFor,
  emulatorConfig,
  grant,
  grants,
  queue,
  removeTestCa,
  signToken,
  startTestBroker,
  tokenClient,
} from "./support.ts";

const code = (expected: string) => (e: unknown) => {
  assert.ok(isServiceBusError(e), `expected a ServiceBusError, got ${String(e)}`);
  assert.equal(e.code, expected, e.message);
  return true;
};

describe("authentication, RBAC and error codes", () => {
  let broker: Broker;
  const clients: ServiceBusClient[] = [];
  const track = (c: ServiceBusClient) => (clients.push(c), c);

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("orders"), queue("other")]));
    grant("sender-only", ["Send"], "orders");
    grant("receiver-only", ["Listen"], "orders");
    grant("ns-owner", ["Manage", "Send", "Listen"]);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await broker.close();
    await removeTestCa();
  });

  it("reports MessagingEntityNotFound for a queue that does not exist, for senders and receivers", async () => {
    const client = track(tokenClient(broker, credentialFor("ns-owner")));
    await assert.rejects(
      client.createSender("nope").sendMessages({ body: 1 }),
      code("MessagingEntityNotFound"),
    );
    await assert.rejects(
      client.createReceiver("nope").receiveMessages(1, { maxWaitTimeInMs: 500 }),
      code("MessagingEntityNotFound"),
    );
  });

  it("refuses to send without the Send role with UnauthorizedAccess naming the 'Send' claim", async () => {
    const client = track(tokenClient(broker, credentialFor("receiver-only")));
    await assert.rejects(client.createSender("orders").sendMessages({ body: 1 }), (e) => {
      code("UnauthorizedAccess")(e);
      assert.match((e as Error).message, /'Send' claim\(s\) are required/);
      return true;
    });
  });

  it("refuses to receive without the Listen role with UnauthorizedAccess naming the 'Listen' claim", async () => {
    const client = track(tokenClient(broker, credentialFor("sender-only")));
    await client.createSender("orders").sendMessages({ body: "allowed" });
    await assert.rejects(
      client.createReceiver("orders").receiveMessages(1, { maxWaitTimeInMs: 500 }),
      (e) => {
        code("UnauthorizedAccess")(e);
        assert.match((e as Error).message, /'Listen' claim\(s\) are required/);
        return true;
      },
    );
  });

  it("scopes an entity-level role to that entity only", async () => {
    const client = track(tokenClient(broker, credentialFor("sender-only")));
    await assert.rejects(client.createSender("other").sendMessages({ body: 1 }), code("UnauthorizedAccess"));
  });

  it("applies a role granted at run time to new links", async () => {
    const client = track(tokenClient(broker, credentialFor("late-joiner")));
    await assert.rejects(client.createSender("other").sendMessages({ body: 1 }), code("UnauthorizedAccess"));
    grant("late-joiner", ["Send"], "other");
    await client.createSender("other").sendMessages({ body: 1 });
    grants.delete("late-joiner");
  });

  it("rejects an expired token with UnauthorizedAccess", async () => {
    const expired = { getToken: async () => signToken("ns-owner", -60) };
    const client = track(tokenClient(broker, expired));
    await assert.rejects(client.createSender("orders").sendMessages({ body: 1 }), (e) => {
      code("UnauthorizedAccess")(e);
      assert.doesNotMatch((e as Error).message, /eyJ/, "the token never appears in errors");
      return true;
    });
  });

  it("rejects a token signed by another issuer key", async () => {
    const forged = {
      getToken: async () => {
        const { SignJWT, generateKeyPair } = await import("jose");
        const { privateKey } = await generateKeyPair("RS256");
        const token = await new SignJWT({ oid: "ns-owner" })
          .setProtectedHeader({ alg: "RS256" })
          .setAudience("https://servicebus.azure.net/")
          .setExpirationTime("1h")
          .sign(privateKey);
        return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const client = track(tokenClient(broker, forged));
    await assert.rejects(client.createSender("orders").sendMessages({ body: 1 }), code("UnauthorizedAccess"));
  });

  it("accepts a refreshed token: the SDK re-puts a short-lived token and keeps working", async () => {
    // 125 s lifetime: the SDK refreshes 120 s before expiry, i.e. after about 5 s.
    const credential = credentialFor("ns-owner", 125);
    const client = track(tokenClient(broker, credential));
    const sender = client.createSender("other");
    await sender.sendMessages({ body: "before" });
    const before = credential.issued;
    await new Promise((r) => setTimeout(r, 5600));
    assert.ok(credential.issued > before, "the SDK asked for a new token");
    await sender.sendMessages({ body: "after" });
    const receiver = client.createReceiver("other", { receiveMode: "receiveAndDelete" });
    const got = await receiver.receiveMessages(10, { maxWaitTimeInMs: 1000 });
    assert.ok(got.some((m) => m.body === "after"));
  });

  it("accepts the official emulator's connection string over plain TCP and refuses a wrong key", async () => {
    const good = track(connectionStringClient(broker));
    await good.createSender("orders").sendMessages({ body: "via-sas" });
    const bad = track(connectionStringClient(broker, "not-the-key"));
    await assert.rejects(bad.createSender("orders").sendMessages({ body: 1 }), code("UnauthorizedAccess"));
  });
});
