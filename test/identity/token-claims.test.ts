import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { readTokenClaims, TokenFormatError } from "../../src/identity/index.ts";
import { unsignedJwt } from "../../src/local/test/support/platform.ts";

const v2 = {
  aud: "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42",
  azp: "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36",
  oid: "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61",
  roles: ["Orders.Read", "Orders.Fulfil"],
  exp: 1_900_000_000,
  ver: "2.0",
  tid: "d44b06c2-49c9-4449-ac43-10feff5ae020",
};

/** Asserts readTokenClaims refuses `token` with a TokenFormatError matching `pattern` that does not quote it. */
function rejectsToken(token: string, pattern: RegExp) {
  assert.throws(
    () => readTokenClaims(token),
    (error: unknown) => {
      assert.ok(error instanceof TokenFormatError, `got ${String(error)}`);
      assert.match(error.message, pattern);
      if (token.length > 8) assert.ok(!error.message.includes(token), "the message quotes the token");
      assert.doesNotMatch(error.message, /eyJ/);
      return true;
    },
  );
}

describe("readTokenClaims", () => {
  it("reads a v2 token's object id, azp, audience, roles, expiry, version and tenant", () => {
    assert.deepEqual(readTokenClaims(unsignedJwt(v2)), {
      objectId: v2.oid,
      appId: v2.azp,
      audience: v2.aud,
      roles: v2.roles,
      expiresAt: v2.exp * 1000,
      version: "2.0",
      tenantId: v2.tid,
    });
  });

  it("reads a v1 token's appid as the app id", () => {
    const { azp: _azp, ...rest } = v2;
    const claims = readTokenClaims(unsignedJwt({ ...rest, appid: v2.azp, ver: "1.0", aud: "api://x" }));
    assert.equal(claims.appId, v2.azp);
    assert.equal(claims.audience, "api://x");
    assert.equal(claims.version, "1.0");
  });

  it("reads a token without a roles claim as having no roles", () => {
    const { roles: _roles, ...rest } = v2;
    assert.deepEqual(readTokenClaims(unsignedJwt(rest)).roles, []);
  });

  it("uses the credential's expiry only when the token has no exp", () => {
    const { exp: _exp, ...rest } = v2;
    assert.equal(readTokenClaims(unsignedJwt(rest), 123_000).expiresAt, 123_000);
    assert.equal(readTokenClaims(unsignedJwt(v2), 123_000).expiresAt, v2.exp * 1000);
  });

  it("refuses an empty token", () => rejectsToken("", /empty/));
  it("refuses an opaque (non-JWT) token", () =>
    rejectsToken("opaque-access-token-value", /1 dot-separated part, expected 3/));
  it("refuses an encrypted (five-part) token", () =>
    rejectsToken("eyJa.eyJb.c.d.e", /5 dot-separated parts/));
  it("refuses a payload that is not JSON", () =>
    rejectsToken(
      `eyJhbGciOiJSUzI1NiJ9.${Buffer.from("not json").toString("base64url")}.sig`,
      /not readable/,
    ));
  it("refuses a token without oid", () => {
    const { oid: _oid, ...rest } = v2;
    rejectsToken(unsignedJwt(rest), /no oid claim/);
  });
  it("refuses a token without exp when the credential gave no expiry", () => {
    const { exp: _exp, ...rest } = v2;
    rejectsToken(unsignedJwt(rest), /no exp claim/);
  });
  it("refuses a roles claim that is not an array", () =>
    rejectsToken(unsignedJwt({ ...v2, roles: "Orders.Read" }), /roles claim is a string/));
});
