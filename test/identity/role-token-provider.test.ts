import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import {
  createRoleTokenProvider,
  MissingAppRoleError,
  TokenAcquisitionError,
} from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  claimsOf,
  GRAPH_SCOPE,
  ORDERS_APP_ID,
  ORDERS_SCOPE,
  startPlatform,
  TENANT_ID,
  WORKER,
} from "../../src/local/test/support/platform.ts";
import { PermanentError, TransientError } from "../../src/shared/failure.ts";

// The provider over the real ManagedIdentityCredential and the local endpoint. MSAL's cache is process-wide, so
// each test that counts endpoint requests uses a resource no earlier test in this file asked for.
const orders = { name: "orders", scope: ORDERS_SCOPE };
const worker = () =>
  new ManagedIdentityCredential({ clientId: WORKER.clientId, retryOptions: { maxRetries: 0 } });

describe("role-scoped tokens from a real user-assigned ManagedIdentityCredential", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("makes one request to the endpoint however many callers ask at once, then serves from its cache", async () => {
    const provider = createRoleTokenProvider({ credential: worker() });
    const before = platform.tokenRequests;
    const tokens = await Promise.all(
      Array.from({ length: 10 }, () => provider.getToken(orders, ["Orders.Fulfil"])),
    );
    assert.equal(platform.tokenRequests, before + 1);
    assert.equal(new Set(tokens.map((t) => t.token)).size, 1);
    assert.ok(tokens.every((t) => !t.fromCache));
    const again = await provider.getToken(orders, ["Orders.Read"]);
    assert.equal(again.fromCache, true);
    assert.equal(platform.tokenRequests, before + 1);
  });

  it("reads the roles, ids, audience, version and expiry from the token", async () => {
    const { claims } = await createRoleTokenProvider({ credential: worker() }).getToken(orders, []);
    assert.deepEqual(claims.roles, ["Orders.Read", "Orders.Fulfil"]);
    assert.equal(claims.objectId, WORKER.objectId);
    assert.equal(claims.appId, WORKER.clientId);
    assert.equal(claims.audience, ORDERS_APP_ID);
    assert.equal(claims.version, "2.0");
    assert.equal(claims.tenantId, TENANT_ID);
    // The sample tenant issues one-hour tokens.
    assert.ok(
      Math.abs(claims.expiresAt - (Date.now() + 3_600_000)) < 60_000,
      `expiresAt ${claims.expiresAt}`,
    );
  });

  it("fails with MissingAppRoleError naming the role, the identity, the API, what it has and how to grant it", async () => {
    const provider = createRoleTokenProvider({ credential: worker() });
    await assert.rejects(provider.getToken(orders, ["Orders.Read", "Orders.Refund"]), (error: unknown) => {
      assert.ok(error instanceof MissingAppRoleError);
      assert.ok(error instanceof PermanentError);
      assert.equal(error.deadLetterReason, "MissingAppRole");
      assert.equal(error.api, "orders");
      assert.equal(error.scope, ORDERS_SCOPE);
      assert.deepEqual(error.missingRoles, ["Orders.Refund"]);
      assert.deepEqual(error.grantedRoles, ["Orders.Read", "Orders.Fulfil"]);
      assert.equal(error.objectId, WORKER.objectId);
      assert.equal(error.appId, WORKER.clientId);
      assert.equal(
        error.message,
        [
          `Missing app role Orders.Refund on API "orders".`,
          `Fix: keyless grant --identity ${WORKER.objectId} --api api://${ORDERS_APP_ID} --role Orders.Refund (it prints the az rest equivalent too).`,
          `Tokens carry a new role once the identity's cached token expires (up to ~24 h in Azure); then: keyless dlq resubmit <entity> --reason MissingAppRole.`,
          `Identity ${WORKER.objectId} (client id ${WORKER.clientId}) has on api://${ORDERS_APP_ID}: Orders.Read, Orders.Fulfil.`,
        ].join("\n"),
      );
      assert.doesNotMatch(error.message, /eyJ/);
      return true;
    });
  });

  it("gives up on a hanging endpoint after its timeout with one request for all waiting callers", async () => {
    const provider = createRoleTokenProvider({ credential: worker(), timeoutMs: 300 });
    const graph = { name: "graph", scope: GRAPH_SCOPE };
    platform.setFault({ kind: "hang" });
    const before = platform.tokenRequests;
    const started = performance.now();
    try {
      const results = await Promise.allSettled([1, 2, 3].map(() => provider.getToken(graph, [])));
      for (const result of results) {
        assert.equal(result.status, "rejected");
        const error = (result as PromiseRejectedResult).reason as unknown;
        assert.ok(error instanceof TokenAcquisitionError);
        assert.ok(error instanceof TransientError);
        assert.equal(error.timedOut, true);
        assert.match(
          error.message,
          /API "graph" \(scope https:\/\/graph\.microsoft\.com\/\.default\) after \d+ ms: .*within 300 ms/,
        );
      }
    } finally {
      platform.setFault({ kind: "none" });
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 2_000, `took ${elapsed} ms`);
    assert.equal(platform.tokenRequests, before + 1);
    // The SDK ignores abort signals, so its request stays open until the endpoint answers or closes.
    assert.equal(provider.describe(graph).abandonedCalls, 1);

    const recovered = await provider.getToken(graph, []);
    assert.equal(recovered.claims.objectId, WORKER.objectId);
    assert.equal(platform.tokenRequests, before + 2);
  });

  // Last: it grants a role in the tenant (and takes it back).
  it("forceRefresh asks the credential again, but the SDK's cache hands back the same token without a new role", async () => {
    const provider = createRoleTokenProvider({ credential: worker() });
    const cached = await provider.getToken(orders, []);
    const app = platform.tenant.findApplication("Orders API")!;
    const refund = app.appRoles.find((r) => r.value === "Orders.Refund")!;
    const { assignment } = platform.tenant.assignAppRole({
      principalId: WORKER.objectId,
      resourceId: app.servicePrincipalId,
      appRoleId: refund.id,
    });
    try {
      const minted = await platform.issuer.issueFor(
        platform.tenant.findIdentity(WORKER.objectId)!,
        `api://${ORDERS_APP_ID}`,
      );
      assert.deepEqual(claimsOf(minted.accessToken).roles, ["Orders.Read", "Orders.Fulfil", "Orders.Refund"]);

      const before = platform.tokenRequests;
      const forced = await provider.getToken(orders, [], { forceRefresh: true });
      assert.equal(forced.fromCache, false, "our cache was skipped");
      assert.equal(forced.token, cached.token, "MSAL answered from its process-wide cache");
      assert.equal(platform.tokenRequests, before, "the endpoint was not asked");
      await assert.rejects(
        provider.getToken(orders, ["Orders.Refund"], { forceRefresh: true }),
        MissingAppRoleError,
      );
    } finally {
      platform.tenant.removeAppRoleAssignment(assignment.id);
    }
  });
});
