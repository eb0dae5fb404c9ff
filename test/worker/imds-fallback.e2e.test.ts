import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { closedPort } from "../support/closed-port.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { startTestWorker, type TestWorker, until } from "./support.ts";

// Its own file: MSAL picks the managed-identity source once per process, and here it is IMDS.
describe("no IDENTITY_ENDPOINT: the identity SDK falls back to IMDS", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    delete process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_HEADER;
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = `http://127.0.0.1:${await closedPort()}`;
    const env = stack.workerEnv({ LOG_LEVEL: "info", WORKER_TOKEN_TIMEOUT_MS: "1500" });
    delete env.IDENTITY_ENDPOINT;
    delete env.IDENTITY_HEADER;
    w = await startTestWorker(stack, {}, env);
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("names the missing variable once per token source, at warn, and in /readyz, instead of retrying silently", async () => {
    const tokenWarnings = () =>
      w.log.lines().filter((l) => l.level === "warn" && /IDENTITY_ENDPOINT is not set/.test(String(l.msg)));
    await until(() => tokenWarnings().length > 0, 20_000, "the warning");
    await new Promise((r) => setTimeout(r, 4_000)); // the probes keep failing meanwhile
    const sources = tokenWarnings().map((l) => l.source);
    assert.equal(new Set(sources).size, sources.length, `one warning per source: ${JSON.stringify(sources)}`);
    const response = await fetch(`http://127.0.0.1:${w.worker.healthPort}/readyz`);
    assert.equal(response.status, 503);
    const body = (await response.json()) as { tokens: Record<string, { ok: boolean; fix?: string }> };
    const down = Object.values(body.tokens).filter((t) => !t.ok);
    assert.ok(down.length > 0);
    for (const t of down)
      assert.match(t.fix ?? "", /IDENTITY_ENDPOINT is not set.*enable a managed identity/);
  });
});
