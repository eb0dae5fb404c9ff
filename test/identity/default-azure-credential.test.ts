import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { DefaultAzureCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  claimsOf,
  ORDERS_SCOPE,
  SERVICE_BUS_SCOPE,
  startPlatform,
  WORKER,
} from "../../src/local/test/support/platform.ts";

// DefaultAzureCredential reads AZURE_CLIENT_ID and AZURE_TOKEN_CREDENTIALS when constructed. Each test asks for a
// different resource so MSAL's process-wide cache cannot answer for the endpoint.
describe("DefaultAzureCredential with IDENTITY_ENDPOINT, IDENTITY_HEADER and AZURE_CLIENT_ID", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
    process.env.AZURE_CLIENT_ID = WORKER.clientId;
    for (const name of ["AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"]) {
      delete process.env[name];
    }
  });
  after(() => {
    delete process.env.AZURE_TOKEN_CREDENTIALS;
    return platform.close();
  });

  it("narrowed to ManagedIdentityCredential, gets the user-assigned identity's token from the local endpoint", async () => {
    process.env.AZURE_TOKEN_CREDENTIALS = "ManagedIdentityCredential";
    const before = platform.tokenRequests;
    const token = await new DefaultAzureCredential().getToken(ORDERS_SCOPE);
    assert.equal(claimsOf(token.token).oid, WORKER.objectId);
    assert.equal(platform.tokenRequests, before + 1);
  });

  it("as the whole chain, still gets it from the local endpoint (no secret or token file for earlier links)", async () => {
    delete process.env.AZURE_TOKEN_CREDENTIALS;
    const before = platform.tokenRequests;
    const token = await new DefaultAzureCredential().getToken(SERVICE_BUS_SCOPE);
    assert.equal(claimsOf(token.token).oid, WORKER.objectId);
    assert.equal(claimsOf(token.token).aud, "https://servicebus.azure.net/");
    assert.equal(platform.tokenRequests, before + 1);
  });
});
