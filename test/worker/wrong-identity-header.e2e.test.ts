import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { startTestWorker, type TestWorker, until } from "./support.ts";

// Its own file: MSAL reads the managed-identity environment once per process, and here its header is wrong.
describe("a wrong IDENTITY_HEADER", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    process.env.IDENTITY_HEADER = "not-the-endpoints-secret";
    w = await startTestWorker(stack, {
      IDENTITY_HEADER: "not-the-endpoints-secret",
      LOG_LEVEL: "info",
      WORKER_TOKEN_TIMEOUT_MS: "3000",
    });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("is named once per token source as the header's fault, not the identity's, and in /readyz", async () => {
    const warnings = () =>
      w.log.lines().filter((l) => l.level === "warn" && /IDENTITY_HEADER does not match/.test(String(l.msg)));
    await until(() => warnings().length > 0, 20_000, "the warning");
    await new Promise((r) => setTimeout(r, 3_000));
    const sources = warnings().map((l) => l.source);
    assert.equal(new Set(sources).size, sources.length, `once per source: ${JSON.stringify(sources)}`);
    assert.doesNotMatch(
      JSON.stringify(w.log.lines()),
      /not-the-endpoints-secret/,
      "the header's value is never logged",
    );
    const body = (await (await fetch(`http://127.0.0.1:${w.worker.healthPort}/readyz`)).json()) as {
      ready: boolean;
      tokens: Record<string, { ok: boolean; fix?: string }>;
    };
    assert.equal(body.ready, false);
    const down = Object.values(body.tokens).filter((t) => !t.ok);
    assert.ok(down.length > 0);
    for (const t of down) assert.match(t.fix ?? "", /do not set it by hand/);
  });
});
