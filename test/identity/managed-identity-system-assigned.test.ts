import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { claimsOf, ORDERS_APP_ID, ORDERS_SCOPE, PRODUCER, startPlatform } from "./support.ts";

describe("a system-assigned ManagedIdentityCredential against the local endpoint", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("gets a token for the tenant's system-assigned identity, with no roles it was not granted", async () => {
    const token = await new ManagedIdentityCredential().getToken(ORDERS_SCOPE);
    const claims = claimsOf(token.token);
    assert.equal(claims.oid, PRODUCER.objectId);
    assert.equal(claims.aud, ORDERS_APP_ID);
    assert.equal(claims.roles, undefined);
  });
});
