import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { ORDERS_SCOPE, startPlatform, WORKER } from "./support.ts";

describe("the local managed-identity endpoint with a wrong X-IDENTITY-HEADER", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform({ header: "not-the-platform-secret" });
  });
  after(() => platform.close());

  it("refuses the request and the SDK reports why", async () => {
    await assert.rejects(
      new ManagedIdentityCredential({ clientId: WORKER.clientId, retryOptions: { maxRetries: 0 } }).getToken(
        ORDERS_SCOPE,
      ),
      (error: Error) => {
        assert.equal(error.name, "CredentialUnavailableError");
        assert.match(error.message, /X-IDENTITY-HEADER/);
        return true;
      },
    );
  });
});
