import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { generateKeyPair, SignJWT, type JWTPayload } from "jose";

import type { IdentityPlatform } from "../../identity/index.ts";
import { type OrdersApi, startOrdersApi } from "../../orders-api/index.ts";
import { claimsOf, ORDERS_APP_ID, ORDERS_SCOPE, startPlatform, WORKER } from "../support/platform.ts";

const TENANT = "d44b06c2-49c9-4449-ac43-10feff5ae020";

describe("the sample orders API's token checks", () => {
  let platform: IdentityPlatform;
  let api: OrdersApi;
  let valid: string;
  let validClaims: JWTPayload;

  const call = (token: string | undefined, method = "GET", path = "orders/o-1", body?: unknown) =>
    fetch(new URL(path, api.url), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  const now = () => Math.floor(Date.now() / 1000);
  const forged = (changes: JWTPayload) => platform.issuer.sign({ ...validClaims, ...changes });
  const expectRefused = async (token: string | undefined, reason: RegExp) => {
    const response = await call(token);
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer realm="orders-api"/);
    if (token) assert.match(response.headers.get("www-authenticate") ?? "", reason);
  };

  before(async () => {
    platform = await startPlatform();
    api = await startOrdersApi({
      authority: platform.authority,
      tenantId: TENANT,
      audiences: [`api://${ORDERS_APP_ID}`, ORDERS_APP_ID],
      port: 0,
    });
    valid = (await new ManagedIdentityCredential({ clientId: WORKER.clientId }).getToken(ORDERS_SCOPE)).token;
    validClaims = claimsOf(valid);
  });
  after(async () => {
    await api.close();
    await platform.close();
  });

  it("accepts a token from the managed identity on the routes its roles allow", async () => {
    assert.equal((await call(valid)).status, 200);
    assert.equal((await call(valid, "POST", "orders/o-2/fulfilment", {})).status, 201);
  });

  it("refuses a route whose role the caller lacks with 403 naming the role", async () => {
    const response = await call(valid, "POST", "orders/o-3/refunds", { amount: 5, currency: "EUR" });
    assert.equal(response.status, 403);
    const body = (await response.json()) as { missingRoles: string[]; callerObjectId: string; hint: string };
    assert.deepEqual(body.missingRoles, ["Orders.Refund"]);
    assert.equal(body.callerObjectId, WORKER.objectId);
    assert.match(body.hint, /keyless grant/);
  });

  it("asks for a token when there is none", async () => {
    await expectRefused(undefined, /./);
  });

  it("refuses a token for another audience", async () => {
    await expectRefused(
      await forged({ aud: "api://someone-else" }),
      /audience 'api:\/\/someone-else' is not accepted; expected one of api:\/\/568c0ca2/,
    );
  });

  it("refuses a token from another issuer", async () => {
    await expectRefused(await forged({ iss: "https://login.microsoftonline.com/other/v2.0" }), /issuer/);
  });

  it("refuses an expired token", async () => {
    await expectRefused(await forged({ exp: now() - 3600, iat: now() - 7200, nbf: now() - 7200 }), /expired/);
  });

  it("refuses a token that is not valid yet", async () => {
    await expectRefused(await forged({ nbf: now() + 3600 }), /not valid before/);
  });

  it("refuses a token issued for another tenant", async () => {
    await expectRefused(await forged({ tid: "00000000-0000-0000-0000-000000000000" }), /tenant/);
  });

  it("refuses a v2 token that names the v1 issuer", async () => {
    await expectRefused(await forged({ iss: `${platform.authority}/${TENANT}/` }), /issuer/);
  });

  it("refuses a token signed by another key, under a foreign kid or one of the issuer's", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const ourKid = (JSON.parse(Buffer.from(valid.split(".")[0]!, "base64url").toString()) as { kid: string })
      .kid;
    for (const [kid, reason] of [
      ["not-ours", /not signed by a key of this tenant/],
      [ourKid, /signature does not verify/],
    ] as const) {
      const token = await new SignJWT(validClaims).setProtectedHeader({ alg: "RS256", kid }).sign(privateKey);
      await expectRefused(token, reason);
    }
  });

  it("refuses an unsigned token (alg: none)", async () => {
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    await expectRefused(
      `${encode({ alg: "none", typ: "JWT" })}.${encode(validClaims)}.`,
      /algorithm is not allowed; only RS256/,
    );
  });

  it("accepts tokens signed before and after a key rotation", async () => {
    const before = await forged({});
    await platform.rotateSigningKey();
    // The validator refetches keys for an unknown kid at most once a second (a guard against kid floods);
    // an earlier test's foreign kid may have used that refetch.
    await new Promise((r) => setTimeout(r, 1_100));
    const afterRotation = await forged({});
    assert.equal((await call(before)).status, 200);
    assert.equal((await call(afterRotation)).status, 200);
  });

  it("records each call in its journal without the token", () => {
    const entry = api.journal().find((e) => e.orderId === "o-2");
    assert.equal(entry?.caller?.oid, WORKER.objectId);
    assert.equal(entry?.caller?.aud, ORDERS_APP_ID);
    assert.ok(!JSON.stringify(api.journal()).includes(valid.split(".")[2]!));
  });
});
