import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";

import {
  createRoleTokenProvider,
  MissingAppRoleError,
  REFRESH_MARGIN_MS,
  TokenAcquisitionError,
  TokenFormatError,
} from "../../src/identity/index.ts";
import { unsignedJwt } from "../../src/local/test/support/platform.ts";
import { TransientError } from "../../src/shared/failure.ts";

// The provider's own logic against a tiny fake credential: each getToken call is recorded and answered by the test.
// The same behaviours are also tested against the real ManagedIdentityCredential in role-token-provider.test.ts.

const orders = { name: "orders", scope: "api://orders/.default" };
const billing = { name: "billing", scope: "api://billing/.default" };
const HOUR = 3_600_000;
const T0 = 1_900_000_000_000;

interface Call {
  scope: string;
  options: GetTokenOptions | undefined;
  resolve: (token: AccessToken | null) => void;
  reject: (error: unknown) => void;
}

function fakeCredential() {
  const calls: Call[] = [];
  const credential: TokenCredential = {
    getToken(scopes, options) {
      return new Promise((resolve, reject) =>
        calls.push({ scope: String(scopes), options, resolve, reject }),
      );
    },
  };
  return { credential, calls };
}

function tokenFor(roles: string[], expiresAt = T0 + HOUR, extra: Record<string, unknown> = {}): AccessToken {
  const token = unsignedJwt({ oid: "oid-1", azp: "client-1", roles, exp: expiresAt / 1000, ...extra });
  return { token, expiresOnTimestamp: expiresAt, tokenType: "Bearer" };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("role token provider logic", () => {
  it("shares one credential call among concurrent callers of one scope, and none among scopes", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    const waiting = Array.from({ length: 5 }, () => provider.getToken(orders, ["Orders.Read"]));
    const other = provider.getToken(billing, []);
    await tick();
    assert.deepEqual(
      calls.map((c) => c.scope),
      [orders.scope, billing.scope],
    );
    assert.equal(provider.describe(orders).inFlight, true);
    calls[0]!.resolve(tokenFor(["Orders.Read"]));
    calls[1]!.resolve(tokenFor([]));
    const results = await Promise.all(waiting);
    await other;
    assert.ok(
      results.every((r) => !r.fromCache),
      "every caller waited on the credential",
    );
    assert.equal(new Set(results.map((r) => r.token)).size, 1);
    assert.equal(provider.describe(orders).inFlight, false);
  });

  it("serves from its cache until five minutes before expiry, then asks the credential again", async () => {
    const { credential, calls } = fakeCredential();
    let now = T0;
    const provider = createRoleTokenProvider({ credential, now: () => now });
    const first = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve(tokenFor([], T0 + HOUR));
    assert.equal((await first).fromCache, false);

    now = T0 + HOUR - REFRESH_MARGIN_MS - 1;
    assert.equal((await provider.getToken(orders, [])).fromCache, true);
    assert.equal(calls.length, 1);

    now = T0 + HOUR - REFRESH_MARGIN_MS;
    const refreshed = provider.getToken(orders, []);
    await tick();
    assert.equal(calls.length, 2, "inside the margin the credential is asked again");
    calls[1]!.resolve(tokenFor([], T0 + 2 * HOUR));
    assert.equal((await refreshed).fromCache, false);
  });

  it("asks the credential again on forceRefresh even with a fresh cached token", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    const first = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve(tokenFor(["Orders.Read"]));
    await first;
    const forced = provider.getToken(orders, [], { forceRefresh: true });
    await tick();
    assert.equal(calls.length, 2);
    calls[1]!.resolve(tokenFor(["Orders.Read", "Orders.Refund"]));
    const result = await forced;
    assert.equal(result.fromCache, false);
    assert.deepEqual(result.claims.roles, ["Orders.Read", "Orders.Refund"]);
    assert.equal(
      (await provider.getToken(orders, ["Orders.Refund"])).fromCache,
      true,
      "the new token is cached",
    );
  });

  it("gives up after timeoutMs with a retryable TokenAcquisitionError, aborts the call and tries afresh next time", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, timeoutMs: 50, now: () => T0 });
    const started = performance.now();
    await assert.rejects(provider.getToken(orders, []), (error: unknown) => {
      assert.ok(error instanceof TokenAcquisitionError);
      assert.ok(error instanceof TransientError);
      assert.equal(error.timedOut, true);
      assert.equal(error.api, "orders");
      assert.equal(error.scope, orders.scope);
      assert.ok(error.elapsedMs >= 45 && error.elapsedMs < 1_000, `elapsed ${error.elapsedMs}`);
      assert.match(
        error.message,
        /API "orders" \(scope api:\/\/orders\/\.default\) after \d+ ms: .*within 50 ms/,
      );
      return true;
    });
    assert.ok(performance.now() - started < 1_000);
    assert.equal(calls[0]!.options?.abortSignal?.aborted, true, "the credential's own signal is aborted");
    assert.equal(provider.describe(orders).abandonedCalls, 1);
    assert.equal(provider.describe(orders).inFlight, false);

    const retry = provider.getToken(orders, []);
    await tick();
    assert.equal(calls.length, 2, "a timed-out call is not joined by later callers");
    calls[1]!.resolve(tokenFor([]));
    await retry;
    calls[0]!.resolve(tokenFor([])); // the hung call finally lets go
    await tick();
    assert.equal(provider.describe(orders).abandonedCalls, 0);
  });

  it("turns a credential error into TokenAcquisitionError that keeps the reason and the cause but no token", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    const failing = provider.getToken(orders, []);
    await tick();
    const leaked = tokenFor([]).token;
    const sdkError = new Error(
      `ManagedIdentityCredential: Authentication failed. invalid_request (${leaked})`,
    );
    calls[0]!.reject(sdkError);
    await assert.rejects(failing, (error: unknown) => {
      assert.ok(error instanceof TokenAcquisitionError);
      assert.equal(error.timedOut, false);
      assert.equal(error.cause, sdkError);
      assert.match(error.message, /ManagedIdentityCredential: Authentication failed\. invalid_request/);
      assert.ok(!error.message.includes(leaked));
      assert.doesNotMatch(error.message, /eyJ/);
      return true;
    });
    const again = provider.getToken(orders, []);
    await tick();
    assert.equal(calls.length, 2, "failures are not cached");
    calls[1]!.resolve(tokenFor([]));
    await again;
  });

  it("fails with TokenAcquisitionError when the credential returns no token", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential });
    const pending = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve(null);
    await assert.rejects(pending, TokenAcquisitionError);
  });

  it("fails with a TokenAcquisitionError caused by a TokenFormatError when the credential returns something that is not a JWT", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential });
    const pending = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve({ token: "opaque", expiresOnTimestamp: T0 + HOUR });
    // The token source's fault, not the message's: the worker holds messages (not ready) instead of dead-lettering.
    await assert.rejects(
      pending,
      (error: unknown) =>
        error instanceof TokenAcquisitionError &&
        error.cause instanceof TokenFormatError &&
        /unusable/.test(error.message) &&
        !error.message.includes("opaque"),
    );
  });

  it("names every missing role and what the identity has, from the cache as well", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    const pending = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve(tokenFor(["Orders.Read"]));
    await pending;
    await assert.rejects(
      provider.getToken(orders, ["Orders.Read", "Orders.Refund", "Orders.Fulfil"]),
      (error: unknown) => {
        assert.ok(error instanceof MissingAppRoleError);
        assert.deepEqual(error.missingRoles, ["Orders.Refund", "Orders.Fulfil"]);
        assert.deepEqual(error.grantedRoles, ["Orders.Read"]);
        assert.equal(error.appId, "client-1");
        assert.match(error.message, /^Missing app roles Orders\.Refund, Orders\.Fulfil on API "orders"\.\n/);
        assert.match(error.message, /--role Orders\.Refund && keyless grant .* --role Orders\.Fulfil/);
        return true;
      },
    );
    assert.equal(calls.length, 1);
  });

  it("stops one caller's wait when its signal aborts while the others still get the token", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    const controller = new AbortController();
    const impatient = provider.getToken(orders, [], { signal: controller.signal });
    const patient = provider.getToken(orders, []);
    await tick();
    controller.abort(new Error("handler aborted"));
    await assert.rejects(impatient, /handler aborted/);
    calls[0]!.resolve(tokenFor([]));
    assert.equal((await patient).fromCache, false);
    assert.equal(calls.length, 1);
  });

  it("describes the cached token by ids, roles and times only", async () => {
    const { credential, calls } = fakeCredential();
    const provider = createRoleTokenProvider({ credential, now: () => T0 });
    assert.equal(provider.describe(orders).cached, undefined);
    const pending = provider.getToken(orders, []);
    await tick();
    calls[0]!.resolve(tokenFor(["Orders.Read"], T0 + HOUR));
    const { token } = await pending;
    const state = provider.describe(orders);
    assert.deepEqual(state.cached, {
      objectId: "oid-1",
      appId: "client-1",
      roles: ["Orders.Read"],
      expiresAt: new Date(T0 + HOUR).toISOString(),
      refreshAt: new Date(T0 + HOUR - REFRESH_MARGIN_MS).toISOString(),
    });
    assert.ok(!JSON.stringify(state).includes(token));
  });
});
