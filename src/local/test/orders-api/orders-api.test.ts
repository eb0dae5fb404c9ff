import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { type IdentityPlatform, startIdentityPlatform } from "../../identity/index.ts";
import { type OrdersApi, startOrdersApi } from "../../orders-api/index.ts";
import { loadTenantFile } from "../../tenant/index.ts";

const APP_ID = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** What the API does with a valid caller: idempotency, bodies, faults, journal. Token checks: token-validation. */
describe("the sample orders API", () => {
  let platform: IdentityPlatform;
  let api: OrdersApi;
  let worker: string; // Orders.Read + Orders.Fulfil, as the sample tenant grants
  let refunder: string; // the same identity with Orders.Refund too

  const call = (
    token: string | undefined,
    method: string,
    path: string,
    o: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ) =>
    fetch(new URL(path, api.url), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(o.body === undefined ? {} : { "content-type": "application/json" }),
        ...o.headers,
      },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: o.signal,
    });
  const fulfil = (orderId: string, headers: Record<string, string> = {}, body: unknown = {}) =>
    call(worker, "POST", `orders/${orderId}/fulfilment`, { body, headers });
  const entriesFor = (orderId: string) => api.journal().filter((e) => e.orderId === orderId);

  before(async () => {
    platform = await startIdentityPlatform({ tenant: await loadTenantFile(), port: 0 });
    api = await startOrdersApi({
      authority: platform.authority,
      tenantId: platform.tenant.tenantId,
      audiences: [`api://${APP_ID}`, APP_ID],
      port: 0,
    });
    const issued = await platform.issuer.issueFor(platform.tenant.findIdentity("orders-worker")!, APP_ID);
    worker = issued.accessToken;
    const claims = JSON.parse(Buffer.from(worker.split(".")[1]!, "base64url").toString()) as Record<
      string,
      unknown
    >;
    refunder = await platform.issuer.sign({
      ...claims,
      roles: [...(claims.roles as string[]), "Orders.Refund"],
    });
  });
  after(async () => {
    await api?.close();
    await platform?.close();
  });

  describe("Idempotency-Key", () => {
    it("returns the first answer to a replay, marked as replayed, and fulfils once", async () => {
      const first = await fulfil("o-idem", { "idempotency-key": "k-1" });
      const second = await fulfil("o-idem", { "idempotency-key": "k-1" });
      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.equal(first.headers.get("idempotent-replayed"), null);
      assert.equal(second.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(await second.json(), await first.json());
      assert.deepEqual(api.effects("o-idem"), { fulfilments: 1, refunds: 0 });
    });

    it("applies a refund once however often it is replayed", async () => {
      const refund = () =>
        call(refunder, "POST", "orders/o-refund/refunds", {
          body: { amount: 12.5, currency: "EUR" },
          headers: { "idempotency-key": "r-1" },
        });
      const answers = [await refund(), await refund(), await refund()];
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 201, 201],
      );
      const ids = await Promise.all(
        answers.map(async (a) => ((await a.json()) as { refund: { id: string } }).refund.id),
      );
      assert.equal(new Set(ids).size, 1, "every replay names the one refund");
      assert.deepEqual(api.effects("o-refund"), { fulfilments: 0, refunds: 1 });
    });

    it("treats the same body with its keys in another order as the same request", async () => {
      const body = (a: object) =>
        call(refunder, "POST", "orders/o-order/refunds", { body: a, headers: { "idempotency-key": "r-2" } });
      assert.equal((await body({ amount: 1, currency: "EUR" })).status, 201);
      const replay = await body({ currency: "EUR", amount: 1 });
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(api.effects("o-order"), { fulfilments: 0, refunds: 1 });
    });

    it("refuses a key reused with another body with 422 and applies nothing more", async () => {
      const refund = (amount: number) =>
        call(refunder, "POST", "orders/o-reuse/refunds", {
          body: { amount, currency: "EUR" },
          headers: { "idempotency-key": "r-3" },
        });
      assert.equal((await refund(5)).status, 201);
      const reused = await refund(500);
      assert.equal(reused.status, 422);
      assert.match(((await reused.json()) as { message: string }).message, /different body/);
      assert.deepEqual(api.effects("o-reuse"), { fulfilments: 0, refunds: 1 });
    });

    it("scopes a key to its path: the same key on another order is a new request", async () => {
      assert.equal((await fulfil("o-scope-1", { "idempotency-key": "shared" })).status, 201);
      const other = await fulfil("o-scope-2", { "idempotency-key": "shared" });
      assert.equal(other.status, 201);
      assert.equal(other.headers.get("idempotent-replayed"), null);
      assert.equal(api.effects("o-scope-2").fulfilments, 1);
    });

    it("answers 409 to a second fulfilment without a key, since the order is no longer open", async () => {
      assert.equal((await fulfil("o-twice")).status, 201);
      assert.equal((await fulfil("o-twice")).status, 409);
      assert.equal(api.effects("o-twice").fulfilments, 1);
    });
  });

  it("answers 400 listing what is wrong with a body, and applies nothing", async () => {
    const response = await call(refunder, "POST", "orders/o-bad/refunds", {
      body: { amount: -1, currency: "euro", extra: 1 },
    });
    assert.equal(response.status, 400);
    const { issues } = (await response.json()) as { issues: Array<{ path: string }> };
    assert.deepEqual(issues.map((i) => i.path).sort(), ["", "amount", "currency"]);
    assert.deepEqual(api.effects("o-bad"), { fulfilments: 0, refunds: 0 });
  });

  describe("faults", () => {
    it("flaky-<n>: the first n requests for the order answer 503, on any route, then it works", async () => {
      const statuses = [
        (await call(worker, "GET", "orders/flaky-2-a")).status,
        (await fulfil("flaky-2-a")).status,
        (await fulfil("flaky-2-a")).status,
      ];
      assert.deepEqual(statuses, [503, 503, 201]);
      assert.equal(api.effects("flaky-2-a").fulfilments, 1);
    });

    it("throttled-<s>: the first request answers 429 with Retry-After, the next works", async () => {
      const first = await fulfil("throttled-7-a");
      assert.equal(first.status, 429);
      assert.equal(first.headers.get("retry-after"), "7");
      assert.equal((await fulfil("throttled-7-a")).status, 201);
    });

    it("reject-: every request answers 422 with a problem body, and nothing applies", async () => {
      for (let i = 0; i < 2; i += 1) {
        const response = await fulfil("reject-a");
        assert.equal(response.status, 422);
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
        const problem = (await response.json()) as { status: number; detail: string };
        assert.equal(problem.status, 422);
        assert.match(problem.detail, /reject-a/);
      }
      assert.equal(api.effects("reject-a").fulfilments, 0);
    });

    it("slow-<ms>: answers after the delay", async () => {
      const started = performance.now();
      assert.equal((await fulfil("slow-300-a")).status, 201);
      assert.ok(performance.now() - started >= 290);
    });

    it("slow-<ms>: a caller that hangs up gets nothing applied, and the journal says 499", async () => {
      await assert.rejects(
        call(worker, "POST", "orders/slow-5000-gone/fulfilment", {
          body: {},
          signal: AbortSignal.timeout(100),
        }),
        { name: "TimeoutError" },
      );
      // The API notices the hang-up at once, not after 5 s.
      for (let i = 0; i < 50 && entriesFor("slow-5000-gone").length === 0; i += 1) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(
        entriesFor("slow-5000-gone").map((e) => e.status),
        [499],
      );
      assert.equal(api.effects("slow-5000-gone").fulfilments, 0);
    });

    it("X-Fault plays the same grammar on an ordinary order id", async () => {
      const headers = { "x-fault": "flaky-1" };
      assert.equal((await fulfil("o-header", headers)).status, 503);
      assert.equal((await fulfil("o-header", headers)).status, 201);
      assert.equal((await fulfil("o-header-2", { "x-fault": "reject" })).status, 422);
    });

    it("plays after the token check: a caller without a token gets 401 and uses up no failure", async () => {
      assert.equal(
        (await call(undefined, "POST", "orders/flaky-1-auth/fulfilment", { body: {} })).status,
        401,
      );
      assert.equal((await fulfil("flaky-1-auth")).status, 503);
      assert.equal((await fulfil("flaky-1-auth")).status, 201);
    });

    it("treats ids that only look like faults as ordinary orders", async () => {
      for (const id of ["flaky", "flakyx-1", "slow-abc", "rejected"]) {
        assert.equal((await call(worker, "GET", `orders/${id}`)).status, 200, id);
      }
    });
  });

  it("counts requests it handles at the same moment", async () => {
    await Promise.all([1, 2, 3].map((i) => call(worker, "GET", `orders/slow-150-c${i}`)));
    assert.ok(api.maxConcurrentRequests >= 3, `saw ${api.maxConcurrentRequests}`);
  });

  it("journals caller, key and trace context of each request, never the token", async () => {
    await fulfil("o-journal", { "idempotency-key": "j-1", traceparent: TRACEPARENT });
    const [entry] = entriesFor("o-journal");
    assert.ok(entry);
    assert.equal(entry.method, "POST");
    assert.equal(entry.path, "/orders/o-journal/fulfilment");
    assert.equal(entry.status, 201);
    assert.equal(entry.idempotencyKey, "j-1");
    assert.equal(entry.traceparent, TRACEPARENT);
    assert.deepEqual(entry.caller, {
      oid: platform.tenant.findIdentity("orders-worker")!.objectId,
      appId: platform.tenant.findIdentity("orders-worker")!.clientId,
      aud: APP_ID,
      roles: ["Orders.Read", "Orders.Fulfil"],
      version: "2.0",
    });
    const journal = JSON.stringify(api.journal());
    for (const token of [worker, refunder]) assert.ok(!journal.includes(token.split(".")[2]!));
  });
});
