import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import { chooseCredential } from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  claimsOf,
  ORDERS_APP_ID,
  ORDERS_SCOPE,
  PRODUCER,
  SERVICE_BUS_SCOPE,
  startPlatform,
} from "../../src/local/test/support/platform.ts";

describe("a system-assigned ManagedIdentityCredential against the local endpoint", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
    delete process.env.AZURE_CLIENT_ID;
  });
  after(() => platform.close());

  it("is what chooseCredential picks without AZURE_CLIENT_ID, and it gets the system-assigned identity's token", async () => {
    const chosen = chooseCredential(process.env, { arcAgentInstalled: false });
    assert.equal(chosen.source, "AppService");
    assert.match(chosen.description, /system-assigned$/);
    const before = platform.tokenRequests;
    const token = await chosen.credential.getToken(SERVICE_BUS_SCOPE);
    assert.equal(platform.tokenRequests, before + 1);
    assert.equal(claimsOf(token?.token ?? "").oid, PRODUCER.objectId);
  });

  it("gets a token for the API with no roles claim, since none were granted", async () => {
    const token = await new ManagedIdentityCredential().getToken(ORDERS_SCOPE);
    const claims = claimsOf(token.token);
    assert.equal(claims.oid, PRODUCER.objectId);
    assert.equal(claims.aud, ORDERS_APP_ID);
    assert.equal(claims.roles, undefined);
  });
});
