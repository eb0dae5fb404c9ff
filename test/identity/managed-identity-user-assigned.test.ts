import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import { chooseCredential } from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  claimsOf,
  ORDERS_APP_ID,
  ORDERS_SCOPE,
  SERVICE_BUS_SCOPE,
  startPlatform,
  TENANT_ID,
  WORKER,
} from "../../src/local/test/support/platform.ts";

describe("a user-assigned ManagedIdentityCredential against the local endpoint", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
    process.env.AZURE_CLIENT_ID = WORKER.clientId;
  });
  after(() => platform.close());

  // First in the file: MSAL's cache is process-wide, so a later test's token would answer this one.
  it("is what chooseCredential picks from the App Service variables, and it gets its token from the endpoint", async () => {
    const chosen = chooseCredential(process.env, { arcAgentInstalled: false });
    assert.equal(chosen.source, "AppService");
    assert.match(chosen.description, /App Service .*user-assigned client id eb7db80e/);
    const before = platform.tokenRequests;
    const token = await chosen.credential.getToken(ORDERS_SCOPE);
    assert.equal(platform.tokenRequests, before + 1);
    assert.equal(claimsOf(token?.token ?? "").oid, WORKER.objectId);
  });

  it("gets a v2 app-only token for the API carrying the identity's app roles", async () => {
    const token = await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(ORDERS_SCOPE);
    const claims = claimsOf(token.token);
    assert.equal(claims.aud, ORDERS_APP_ID);
    assert.equal(claims.ver, "2.0");
    assert.equal(claims.azp, WORKER.clientId);
    assert.equal(claims.oid, WORKER.objectId);
    assert.equal(claims.idtyp, "app");
    assert.match(String(claims.iss), new RegExp(`/${TENANT_ID}/v2\\.0$`));
    assert.deepEqual(claims.roles, ["Orders.Read", "Orders.Fulfil"]);
    assert.ok(token.expiresOnTimestamp > Date.now() + 50 * 60_000, "expires_on was read as epoch seconds");
  });

  it("gets a v1 token for Service Bus whose audience echoes the resource", async () => {
    const token = await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(
      SERVICE_BUS_SCOPE,
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
