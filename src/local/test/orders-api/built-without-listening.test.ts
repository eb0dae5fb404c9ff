import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { VerifiedToken } from "@keyless/entra-auth";

import { buildOrdersApi } from "../../orders-api/index.ts";

const OID = "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61";
const APP = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";

/** A stand-in validator: "good:<roles…>" is a valid token with those roles, anything else is refused. */
const fakeValidator = {
  async verify(token: string): Promise<VerifiedToken> {
    if (!token.startsWith("good")) throw new Error("not a test token");
    return {
      claims: { oid: OID, tid: "t", roles: token.split(":").slice(1), ver: "2.0", aud: APP, azp: "eb7db80e" },
      version: "2.0",
      callerAppId: "eb7db80e",
    };
  },
};

describe("the orders API built without listening", () => {
  it("serves inject() requests and reports applied effects on app.orders", async () => {
    const app = buildOrdersApi({ validator: fakeValidator });
    try {
      const fulfil = () =>
        app.inject({
          method: "POST",
          url: "/orders/o-inject/fulfilment",
          headers: { authorization: "Bearer good:Orders.Fulfil", "idempotency-key": "k" },
          payload: {},
        });
      assert.equal((await fulfil()).statusCode, 201);
      const replay = await fulfil();
      assert.equal(replay.statusCode, 201);
      assert.equal(replay.headers["idempotent-replayed"], "true");
      assert.deepEqual(app.orders.effects("o-inject"), { fulfilments: 1, refunds: 0 });
      assert.deepEqual(
        app.orders.journal().map((e) => [e.status, e.replayed, e.caller?.oid]),
        [
          [201, false, OID],
          [201, true, OID],
        ],
      );
    } finally {
      await app.close();
    }
  });
});
