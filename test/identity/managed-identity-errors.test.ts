import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import { createRoleTokenProvider, TokenAcquisitionError } from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  ORDERS_SCOPE,
  SERVICE_BUS_SCOPE,
  startPlatform,
  WORKER,
} from "../../src/local/test/support/platform.ts";

// retryOptions.maxRetries 0: the SDK would otherwise retry 404/410 and 5xx for seconds (a 400 is not retried).
const noRetries = { retryOptions: { maxRetries: 0 } };

describe("the local managed-identity endpoint's errors, through the real SDK", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("names an unknown client id", async () => {
    const unknown = "00000000-1111-2222-3333-444444444444";
    await assert.rejects(
      new ManagedIdentityCredential({ clientId: unknown, ...noRetries }).getToken(ORDERS_SCOPE),
      (error: Error) => {
        assert.equal(error.name, "CredentialUnavailableError");
        assert.match(error.message, new RegExp(`No managed identity with client_id '${unknown}'`));
        return true;
      },
    );
  });

  it("names an unknown resource like Entra does (AADSTS500011)", async () => {
    await assert.rejects(
      new ManagedIdentityCredential({ clientId: WORKER.clientId, ...noRetries }).getToken(
        "api://no-such-api/.default",
      ),
      (error: Error) => {
        assert.equal(error.name, "CredentialUnavailableError");
        assert.match(error.message, /AADSTS500011.*api:\/\/no-such-api/);
        return true;
      },
    );
  });

  it("turns an unknown resource into a TokenAcquisitionError naming the API and scope, after one request", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId, ...noRetries }),
    });
    const before = platform.tokenRequests;
    await assert.rejects(
      provider.getToken({ name: "billing", scope: "api://billing-not-registered/.default" }, []),
      (error: unknown) => {
        assert.ok(error instanceof TokenAcquisitionError);
        assert.match(
          error.message,
          /API "billing" \(scope api:\/\/billing-not-registered\/\.default\).*AADSTS500011/,
        );
        return true;
      },
    );
    assert.equal(platform.tokenRequests, before + 1);
  });

  it("reports an endpoint's 503 as a TokenAcquisitionError, and the next call succeeds once it recovers", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId, ...noRetries }),
    });
    const servicebus = { name: "servicebus", scope: SERVICE_BUS_SCOPE };
    platform.setFault({ kind: "status", status: 503, count: 1 });
    await assert.rejects(provider.getToken(servicebus, []), (error: unknown) => {
      assert.ok(error instanceof TokenAcquisitionError);
      assert.match(error.message, /HTTP 503/);
      return true;
    });
    const { claims } = await provider.getToken(servicebus, []);
    assert.equal(claims.objectId, WORKER.objectId);
  });
});
