import assert from "node:assert/strict";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { closedPort } from "../support/closed-port.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { sendFulfilments, spawnWorker, until } from "../worker/support.ts";

/** Container Apps (and Kubernetes) send SIGKILL this long after SIGTERM. */
const PLATFORM_GRACE_MS = 30_000;

describe("shutdown with an unreachable OTLP endpoint", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack?.close());

  it("exits 0 within the platform's grace after SIGTERM, saying the telemetry could not be flushed", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const { child, output } = spawnWorker(
      stack.workerEnv({ LOG_LEVEL: "info", OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }),
    );
    await until(() => output().includes("worker state: running"), 20_000, "the worker to run");
    // Spans and metrics are waiting to be exported when SIGTERM comes.
    const [sent] = await sendFulfilments(stack, 1, () => `o-${randomUUID()}`);
    await until(() => stack.ordersApi.effects(sent!.orderId).fulfilments === 1, 20_000, "the message");

    const signalled = Date.now();
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    const tookMs = Date.now() - signalled;
    assert.equal(code, 0, output());
    assert.ok(tookMs < PLATFORM_GRACE_MS, `exited ${tookMs} ms after SIGTERM`);
    assert.match(output(), /worker state: stopped/);
    assert.match(output(), new RegExp(`telemetry not flushed .*${endpoint.replace(/\./g, "\\.")}`));
    assert.doesNotMatch(output(), /\n\s+at /, "no stack trace");
  });
});
