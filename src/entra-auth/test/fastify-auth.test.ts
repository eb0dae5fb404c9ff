import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import Fastify, { type FastifyInstance } from "fastify";

import { callerOf, entraAuth, TokenValidationError, type VerifiedToken } from "../index.ts";

const OID = "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61";
const APP = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";

/** A stand-in validator: the token text says what happens, so each case reads on one line. */
const fakeValidator = {
  async verify(token: string): Promise<VerifiedToken> {
    if (token.startsWith("good")) {
      const roles = token.split(":").slice(1);
      return {
        claims: { oid: OID, tid: "t", roles, ver: "2.0", aud: APP, azp: "eb7db80e" },
        version: "2.0",
        callerAppId: "eb7db80e",
      };
    }
    if (token === "hostile") {
      // A description echoing hostile claim text: quotes, backslash, CR/LF and non-Latin-1 characters.
      throw new TokenValidationError('audience "a\\b"\r\nX-Injected: 1 ☃ is not accepted');
    }
    if (token === "offline") {
      throw new TokenValidationError("cannot check the token: fetch failed", { code: "issuer_unavailable" });
    }
    if (token === "boom") throw new Error("validator bug");
    throw new TokenValidationError("the token expired at 2020-01-01T00:00:00.000Z");
  },
};

describe("the Entra auth pre-handlers", () => {
  let app: FastifyInstance;
  const get = (authorization?: string, url = "/read") =>
    app.inject({ method: "GET", url, headers: authorization ? { authorization } : {} });

  before(async () => {
    app = Fastify({ logger: false });
    const auth = entraAuth(fakeValidator, { realm: "test-api", retryAfterSeconds: 3 });
    app.get(
      "/read",
      { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Read")] },
      async (request) => ({
        oid: callerOf(request)?.claims.oid,
      }),
    );
    app.get(
      "/refund",
      { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Refund", "Orders.Read")] },
      () => ({}),
    );
    // A route that forgot authenticate: the role check must not let it through.
    app.get("/misconfigured", { preHandler: [auth.requireAppRoles("Orders.Read")] }, () => ({
      leaked: true,
    }));
    await app.ready();
  });
  after(() => app.close());

  it("lets a caller with the role through and exposes its claims to the handler", async () => {
    const response = await get("Bearer good:Orders.Read");
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { oid: OID });
  });

  it("accepts the scheme in any case, as RFC 6750 allows", async () => {
    assert.equal((await get("bearer good:Orders.Read")).statusCode, 200);
  });

  it("answers a request without a token with a bare challenge and no error code", async () => {
    for (const authorization of [undefined, "Basic dXNlcjpwdw==", "Bearer "]) {
      const response = await get(authorization);
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers["www-authenticate"], 'Bearer realm="test-api"');
    }
  });

  it("answers an invalid token with invalid_token and the reason", async () => {
    const response = await get("Bearer expired-token");
    assert.equal(response.statusCode, 401);
    assert.equal(
      response.headers["www-authenticate"],
      'Bearer realm="test-api", error="invalid_token", error_description="the token expired at 2020-01-01T00:00:00.000Z"',
    );
    assert.equal(response.json<{ error: string }>().error, "invalid_token");
  });

  it("keeps hostile claim text out of the challenge's syntax", async () => {
    const response = await get("Bearer hostile");
    assert.equal(response.statusCode, 401);
    const challenge = String(response.headers["www-authenticate"]);
    assert.equal(response.headers["x-injected"], undefined);
    const description = /error_description="([^"]*)"$/.exec(challenge)?.[1];
    assert.ok(description, challenge);
    assert.match(description, /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
    assert.match(description, /is not accepted/);
  });

  it("answers 503 with Retry-After, not 401, when the issuer cannot be reached", async () => {
    const response = await get("Bearer offline");
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers["retry-after"], "3");
    assert.equal(response.headers["www-authenticate"], undefined);
  });

  it("answers 403 naming the missing role, the caller's roles and object id, and how to grant it", async () => {
    const response = await get("Bearer good:Orders.Read", "/refund");
    assert.equal(response.statusCode, 403);
    const body = response.json<Record<string, unknown>>();
    assert.deepEqual(body.missingRoles, ["Orders.Refund"]);
    assert.deepEqual(body.callerRoles, ["Orders.Read"]);
    assert.equal(body.callerObjectId, OID);
    assert.equal(
      String(body.hint).split(";")[0],
      `grant with keyless grant --identity ${OID} --api ${APP} --role Orders.Refund`,
    );
  });

  it("fails closed when a route checks roles without authenticating first", async () => {
    const response = await get("Bearer good:Orders.Read", "/misconfigured");
    assert.equal(response.statusCode, 401);
    assert.doesNotMatch(response.body, /leaked/);
  });

  it("lets an unexpected validator failure become a 500 that does not echo the token", async () => {
    const response = await get("Bearer boom");
    assert.equal(response.statusCode, 500);
    assert.doesNotMatch(response.body, /Bearer boom/);
  });
});
