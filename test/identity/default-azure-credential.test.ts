import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { DefaultAzureCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { claimsOf, ORDERS_SCOPE, startPlatform, WORKER } from "./support.ts";

describe("DefaultAzureCredential with only IDENTITY_ENDPOINT, IDENTITY_HEADER and AZURE_CLIENT_ID", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
    process.env.AZURE_CLIENT_ID = WORKER.clientId;
    process.env.AZURE_TOKEN_CREDENTIALS = "ManagedIdentityCredential";
  });
  after(() => platform.close());

  it("gets the user-assigned identity's token from the local managed-identity endpoint", async () => {
    const before = platform.tokenRequests;
    const token = await new DefaultAzureCredential().getToken(ORDERS_SCOPE);
    assert.equal(claimsOf(token.token).oid, WORKER.objectId);
    assert.equal(platform.tokenRequests, before + 1);
  });
});
