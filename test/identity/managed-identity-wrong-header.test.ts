import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { CredentialUnavailableError, ManagedIdentityCredential } from "@azure/identity";

import { createRoleTokenProvider, TokenAcquisitionError } from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { ORDERS_SCOPE, startPlatform, WORKER } from "../../src/local/test/support/platform.ts";
import { TransientError } from "../../src/shared/failure.ts";

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
        assert.match(error.message, /X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER/);
        assert.doesNotMatch(error.message, new RegExp(platform.identityHeader));
        return true;
      },
    );
  });

  it("reaches the role-token provider's caller as a retryable TokenAcquisitionError that keeps the SDK's reason", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({
        clientId: WORKER.clientId,
        retryOptions: { maxRetries: 0 },
      }),
    });
    await assert.rejects(provider.getToken({ name: "orders", scope: ORDERS_SCOPE }, []), (error: unknown) => {
      assert.ok(error instanceof TokenAcquisitionError);
      assert.ok(error instanceof TransientError, "transient: the endpoint may answer next time");
      assert.equal(error.timedOut, false);
      assert.ok(error.cause instanceof CredentialUnavailableError);
      assert.match(
        error.message,
        /^no token for API "orders" \(scope api:\/\/568c.*\) after \d+ ms: ManagedIdentityCredential: .*X-IDENTITY-HEADER/,
      );
      return true;
    });
  });
});
