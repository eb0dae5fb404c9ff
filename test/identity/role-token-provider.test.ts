import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import {
  createRoleTokenProvider,
  MissingAppRoleError,
  TokenAcquisitionError,
} from "../../src/identity/index.ts";
import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import { memoryLogger } from "../support/stack.ts";
import { ORDERS_SCOPE, startPlatform, WORKER } from "./support.ts";

const orders = { name: "orders", scope: ORDERS_SCOPE };

describe("role-scoped tokens from a real ManagedIdentityCredential", () => {
  let platform: IdentityPlatform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform.close());

  it("makes one request to the endpoint however many callers ask at once", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
    });
    const before = platform.tokenRequests;
    const tokens = await Promise.all(
      Array.from({ length: 10 }, () => provider.getToken(orders, ["Orders.Fulfil"])),
    );
    assert.equal(platform.tokenRequests, before + 1);
    assert.equal(new Set(tokens.map((t) => t.token)).size, 1);
    assert.equal((await provider.getToken(orders, [])).fromCache, true);
  });

  it("reads the roles, object id and expiry from the token", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
    });
    const { claims } = await provider.getToken(orders, []);
    assert.deepEqual(claims.roles, ["Orders.Read", "Orders.Fulfil"]);
    assert.equal(claims.objectId, WORKER.objectId);
    assert.equal(claims.appId, WORKER.clientId);
    assert.ok(claims.expiresAt > Date.now() + 50 * 60_000);
  });

  it("fails with MissingAppRoleError naming the role, the identity, the API and how to grant it", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
    });
    await assert.rejects(provider.getToken(orders, ["Orders.Read", "Orders.Refund"]), (error: unknown) => {
      assert.ok(error instanceof MissingAppRoleError);
      assert.equal(error.retryable, false);
      assert.deepEqual(error.missingRoles, ["Orders.Refund"]);
      assert.deepEqual(error.grantedRoles, ["Orders.Read", "Orders.Fulfil"]);
      assert.equal(error.objectId, WORKER.objectId);
      assert.match(
        error.message,
        /keyless grant --identity c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61 .*--role Orders\.Refund/,
      );
      assert.match(error.message, /24 h/);
      assert.doesNotMatch(error.message, /eyJ/);
      return true;
    });
  });

  it("gives up on a hanging endpoint after its timeout with a retryable error", async () => {
    platform.setFault({ kind: "hang" });
    try {
      // A scope not requested before in this process, so the SDK's cache cannot answer.
      const provider = createRoleTokenProvider({
        credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
        timeoutMs: 300,
      });
      const started = Date.now();
      await assert.rejects(
        provider.getToken({ name: "graph", scope: "https://graph.microsoft.com/.default" }, []),
        (error: unknown) => {
          assert.ok(error instanceof TokenAcquisitionError);
          assert.equal(error.retryable, true);
          assert.match(error.message, /within 300 ms/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 5_000);
    } finally {
      platform.setFault({ kind: "none" });
    }
  });

  it("never lets a token reach the logs, even when it fails", async () => {
    const log = memoryLogger("debug");
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
    });
    const { token } = await provider.getToken(orders, []);
    try {
      await provider.getToken(orders, ["Orders.Refund"]);
    } catch (error) {
      log.logger.warn({ err: error }, "token failure");
    }
    log.logger.info({ token, authorization: `Bearer ${token}` }, "careless caller");
    const text = log.text();
    assert.ok(text.includes("token failure"));
    assert.ok(!text.includes(token), "the token itself never appears");
  });
});
