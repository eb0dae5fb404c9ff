import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseRetryAfter, retryDelayMs, sleep } from "../../src/worker/backoff.ts";
import { ApiRejectedError, InvalidBodyError, TransientError } from "../../src/worker/errors.ts";
import { MissingAppRoleError } from "../../src/identity/index.ts";
import { classifyFailure } from "../../src/worker/outcome.ts";
import { redactSecrets } from "../../src/shared/redact.ts";

describe("retry delays", () => {
  it("grow exponentially up to the cap", () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) =>
      retryDelayMs(attempt, { baseMs: 100, maxMs: 1000, random: () => 1 }),
    );
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  });

  it("are jittered between zero and the exponential value", () => {
    assert.equal(retryDelayMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0 }), 0);
    assert.equal(retryDelayMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0.5 }), 200);
  });

  it("honour a longer Retry-After, still within the cap", () => {
    assert.equal(retryDelayMs(1, { baseMs: 100, maxMs: 10_000, retryAfterMs: 2000, random: () => 1 }), 2000);
    assert.equal(retryDelayMs(1, { baseMs: 100, maxMs: 1000, retryAfterMs: 5000, random: () => 1 }), 1000);
  });

  it("read Retry-After as seconds or as an HTTP date", () => {
    assert.equal(parseRetryAfter("3"), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });

  it("sleep stops early when its signal aborts", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    await assert.rejects(sleep(10_000, controller.signal), /stop/);
    assert.ok(Date.now() - started < 5_000);
  });
});

describe("failure classification", () => {
  it("dead-letters permanent failures with their reason", () => {
    assert.deepEqual(classifyFailure(new InvalidBodyError("bad")), {
      kind: "permanent",
      reason: "InvalidBody",
      message: "bad",
    });
    assert.equal(classifyFailure(new ApiRejectedError("orders", "POST", "/x", 422, "no")).kind, "permanent");
  });

  it("treats the identity layer's MissingAppRoleError as permanent MissingAppRole", () => {
    const error = new MissingAppRoleError({
      api: "orders",
      scope: "api://orders/.default",
      missingRoles: ["Orders.Refund"],
      grantedRoles: ["Orders.Read"],
      objectId: "00000000-0000-0000-0000-000000000001",
      appId: undefined,
    });
    const failure = classifyFailure(error);
    assert.equal(failure.kind, "permanent");
    assert.equal(failure.kind === "permanent" && failure.reason, "MissingAppRole");
    assert.equal(failure.message, error.message);
  });

  it("retries transient failures and keeps Retry-After and status", () => {
    assert.deepEqual(classifyFailure(new TransientError("503", { status: 503, retryAfterMs: 1000 })), {
      kind: "transient",
      message: "503",
      retryAfterMs: 1000,
      status: 503,
    });
  });

  it("retries errors it does not know (a deployment may fix a bug)", () => {
    assert.equal(classifyFailure(new TypeError("x is undefined")).kind, "transient");
  });
});

describe("redaction", () => {
  it("removes JWTs, bearer values and shared-access keys", () => {
    const text =
      "Authorization: Bearer abc.def.ghi token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln SharedAccessKey=s3cret;x";
    const redacted = redactSecrets(text);
    assert.ok(!redacted.includes("abc.def.ghi"));
    assert.ok(!redacted.includes("eyJhbGciOiJSUzI1NiJ9"));
    assert.ok(!redacted.includes("s3cret"));
  });
});
