import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { claimsOf, ORDERS_APP_ID, ORDERS_SCOPE, startPlatform, WORKER } from "./support.ts";

describe("a user-assigned ManagedIdentityCredential against the local endpoint", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("gets a v2 app-only token for the API carrying the identity's app roles", async () => {
    const token = await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(ORDERS_SCOPE);
    const claims = claimsOf(token.token);
    assert.equal(claims.aud, ORDERS_APP_ID);
    assert.equal(claims.ver, "2.0");
    assert.equal(claims.azp, WORKER.clientId);
    assert.equal(claims.oid, WORKER.objectId);
    assert.equal(claims.idtyp, "app");
    assert.match(String(claims.iss), /\/d44b06c2-49c9-4449-ac43-10feff5ae020\/v2\.0$/);
    assert.deepEqual(claims.roles, ["Orders.Read", "Orders.Fulfil"]);
    assert.ok(token.expiresOnTimestamp > Date.now() + 50 * 60_000, "expires_on was read as epoch seconds");
  });

  it("gets a v1 token for Service Bus whose audience echoes the resource", async () => {
    const token = await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(
      "https://servicebus.azure.net//.default",
    );
    const claims = claimsOf(token.token);
    assert.equal(claims.aud, "https://servicebus.azure.net/");
    assert.equal(claims.ver, "1.0");
    assert.equal(claims.appid, WORKER.clientId);
  });

  it("is served from the SDK's cache on the next call (the resource is echoed exactly)", async () => {
    const before = platform.tokenRequests;
    await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(ORDERS_SCOPE);
    assert.equal(platform.tokenRequests, before);
  });
});
