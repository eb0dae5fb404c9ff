import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { ORDERS_SCOPE, startPlatform, WORKER } from "./support.ts";

describe("the local managed-identity endpoint's errors", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("names an unknown client id", async () => {
    const unknown = "00000000-1111-2222-3333-444444444444";
    await assert.rejects(
      new ManagedIdentityCredential({ clientId: unknown, retryOptions: { maxRetries: 0 } }).getToken(
        ORDERS_SCOPE,
      ),
      (error: Error) => {
        assert.match(error.message, new RegExp(`No managed identity with client_id '${unknown}'`));
        return true;
      },
    );
  });

  it("names an unknown resource like Entra does (AADSTS500011)", async () => {
    await assert.rejects(
      new ManagedIdentityCredential({ clientId: WORKER.clientId, retryOptions: { maxRetries: 0 } }).getToken(
        "api://no-such-api/.default",
      ),
      (error: Error) => {
        assert.match(error.message, /AADSTS500011.*api:\/\/no-such-api/);
        return true;
      },
    );
  });
});
