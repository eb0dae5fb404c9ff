import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { SignJWT, type JWTPayload } from "jose";

import { type IdentityPlatform, startIdentityPlatform } from "../../local/identity/index.ts";
import { createEntraTokenValidator, TokenValidationError } from "../index.ts";
import { loadTenantFile } from "../../local/tenant/index.ts";

const APP_ID = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";

/**
 * An authority in front of the platform that can go down: "metadata" fails discovery, "keys" fails the JWKS. It
 * points jwks_uri at itself so key fetches pass through it too.
 */
async function startFlakyAuthority(upstream: string) {
  let down: "metadata" | "keys" | undefined;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    const isKeys = req.url?.includes("/discovery/") ?? false;
    if ((down === "keys" && isKeys) || (down === "metadata" && !isKeys)) {
      res.writeHead(503).end();
      return;
    }
    void fetch(`${upstream}${req.url}`).then(async (r) => {
      const text = (await r.text()).replaceAll(`"jwks_uri":"${upstream}`, `"jwks_uri":"${base}`);
      res.writeHead(r.status, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    get requests() {
      return requests;
    },
    setDown(part: "metadata" | "keys" | undefined) {
      down = part;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the Entra token validator", () => {
  let platform: IdentityPlatform;
  let claims: JWTPayload;
  let token: string;
  const validator = (options: { requireAppOnly?: boolean; authority?: string } = {}) =>
    createEntraTokenValidator({
      authority: options.authority ?? platform.authority,
      tenantId: platform.tenant.tenantId,
      audiences: [`api://${APP_ID}`, APP_ID],
      ...(options.requireAppOnly === undefined ? {} : { requireAppOnly: options.requireAppOnly }),
    });
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => assert.fail("the token was accepted"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TokenValidationError, String(error));
    return error;
  };

  before(async () => {
    platform = await startIdentityPlatform({ tenant: await loadTenantFile(), port: 0 });
    ({ accessToken: token } = await platform.issuer.issueFor(
      platform.tenant.findIdentity("orders-worker")!,
      APP_ID,
    ));
    claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as JWTPayload;
  });
  after(() => platform?.close());

  it("returns the claims, the version and the calling app of a valid v2 token", async () => {
    const verified = await validator().verify(token);
    assert.equal(verified.version, "2.0");
    assert.equal(verified.callerAppId, platform.tenant.findIdentity("orders-worker")!.clientId);
    assert.equal(verified.claims.oid, platform.tenant.findIdentity("orders-worker")!.objectId);
    assert.deepEqual(verified.claims.roles, ["Orders.Read", "Orders.Fulfil"]);
  });

  it("refuses a delegated token by default and accepts it when told app-only is not required", async () => {
    const delegated = await platform.issuer.sign({ ...claims, scp: "Orders.Read", idtyp: "user" });
    const error = await refusal(validator().verify(delegated));
    assert.match(error.description, /delegated/);
    assert.equal((await validator({ requireAppOnly: false }).verify(delegated)).claims.scp, "Orders.Read");
  });

  it("refuses an idtyp other than app even without scp", async () => {
    const error = await refusal(validator().verify(await platform.issuer.sign({ ...claims, idtyp: "user" })));
    assert.match(error.description, /app-only/);
  });

  it("refuses a token without the claims it authorises on", async () => {
    const without = (name: string) => {
      const copy: JWTPayload = { ...claims };
      delete copy[name];
      return platform.issuer.sign(copy);
    };
    assert.match((await refusal(validator().verify(await without("azp")))).description, /no azp claim/);
    assert.match((await refusal(validator().verify(await without("oid")))).description, /no oid claim/);
    assert.match((await refusal(validator().verify(await without("ver")))).description, /ver claim/);
  });

  it("refuses what is not a JWT and a token with a symmetric algorithm", async () => {
    assert.match((await refusal(validator().verify("not-a-jwt"))).description, /not a JWT/);
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new Uint8Array(32));
    assert.match((await refusal(validator().verify(hs256))).description, /only RS256/);
  });

  it("never puts the token into an error", async () => {
    const bad = [
      await platform.issuer.sign({ ...claims, aud: "api://x" }),
      await platform.issuer.sign({ ...claims, exp: 1 }),
      await platform.issuer.sign({ ...claims, tid: "other" }),
    ];
    for (const t of bad) {
      const error = await refusal(validator().verify(t));
      for (const part of t.split(".")) {
        assert.ok(!error.message.includes(part) && !error.description.includes(part));
      }
    }
  });

  it("cuts claim values echoed into a description short", async () => {
    const error = await refusal(
      validator().verify(await platform.issuer.sign({ ...claims, aud: "x".repeat(5000) })),
    );
    assert.ok(error.description.length < 400, `${error.description.length} characters`);
  });

  describe("when the issuer cannot be reached", () => {
    let authority: Awaited<ReturnType<typeof startFlakyAuthority>>;
    before(async () => {
      authority = await startFlakyAuthority(platform.authority);
    });
    after(() => authority?.close());

    it("says issuer_unavailable rather than invalid_token, and recovers without a restart", async () => {
      const v = validator({ authority: authority.base });
      authority.setDown("metadata");
      const error = await refusal(v.verify(token));
      assert.equal(error.code, "issuer_unavailable");
      assert.match(error.description, /HTTP 503/);
      authority.setDown(undefined);
      assert.equal((await v.verify(token)).version, "2.0");
    });

    it("says issuer_unavailable when the signing keys cannot be fetched", async () => {
      const v = validator({ authority: authority.base });
      authority.setDown("keys");
      const error = await refusal(v.verify(token));
      assert.equal(error.code, "issuer_unavailable");
      assert.match(error.description, /signing keys/);
      authority.setDown(undefined);
    });

    it("says issuer_unavailable when nothing listens at the authority", async () => {
      const error = await refusal(validator({ authority: "http://127.0.0.1:1" }).verify(token));
      assert.equal(error.code, "issuer_unavailable");
    });

    it("fetches discovery once, not per token", async () => {
      const v = validator({ authority: authority.base });
      await v.verify(token);
      const afterFirst = authority.requests;
      for (let i = 0; i < 5; i += 1) await v.verify(token);
      assert.equal(authority.requests, afterFirst);
    });
  });
});
