import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { createWorkerFromEnv } from "../../src/worker/start.ts";
import { memoryLogger, startTestStack, type TestStack } from "../support/stack.ts";
import { testHandlers } from "./fixtures.ts";
import { sendFulfilments, startTestWorker, type TestWorker, until } from "./support.ts";

describe("a misconfigured entity is named once, with its fix, and shows in /readyz", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    w = await startTestWorker(stack, { SERVICEBUS_ENTITIES: "orders,no-such-queue", LOG_LEVEL: "info" });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("warns once that the queue does not exist and how to fix it, keeps retrying, and still serves the other entity", async () => {
    const warnings = () =>
      w.log
        .lines()
        .filter((l) => l.level === "warn" && String(l.msg).startsWith("cannot receive from no-such-queue"));
    await until(() => warnings().length > 0, 15_000, "the warning");
    const [sent] = await sendFulfilments(stack, 1);
    const [event] = await w.settled([sent!.messageId]);
    assert.equal(event?.outcome.kind, "complete", "the good entity is served meanwhile");
    await new Promise((r) => setTimeout(r, 3_000)); // several more failed receives
    assert.equal(warnings().length, 1, "said once, not on every retry");
    assert.match(String(warnings()[0]!.msg), /no such entity no-such-queue .*correct SERVICEBUS_ENTITIES/);
    const response = await fetch(`http://127.0.0.1:${w.worker.healthPort}/readyz`);
    assert.equal(response.status, 503);
    const body = (await response.json()) as {
      entities: Record<string, { receiving: boolean; fix?: string }>;
    };
    assert.equal(body.entities["no-such-queue"]?.receiving, false);
    assert.match(body.entities["no-such-queue"]?.fix ?? "", /correct SERVICEBUS_ENTITIES/);
  });
});

describe("an unreachable namespace is named once, with its fix, and shows in /readyz", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    // A loopback port with nothing behind it: the namespace cannot be reached.
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    w = await startTestWorker(stack, {
      SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: `127.0.0.1:${closed}`,
      LOG_LEVEL: "info",
    });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("warns once that it cannot receive and what to check, instead of retrying silently", async () => {
    const warnings = () =>
      w.log
        .lines()
        .filter((l) => l.level === "warn" && String(l.msg).startsWith("cannot receive from orders"));
    await until(() => warnings().length > 0, 60_000, "the warning");
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(warnings().length, 1, "said once, not on every retry");
    assert.match(String(warnings()[0]!.msg), /check SERVICEBUS_FULLY_QUALIFIED_NAMESPACE, network access/);
    const response = await fetch(`http://127.0.0.1:${w.worker.healthPort}/readyz`);
    assert.equal(response.status, 503);
  });
});

describe("an entity the identity holds no role on is named at once, with the role to grant", () => {
  let stack: TestStack;
  let w: TestWorker;
  before(async () => {
    stack = await startTestStack();
    // orders-bench exists in the sample topology; the sample tenant gives the worker no role on it. The worker's
    // own Service Bus options (not the tests' usual ones) are what production runs with.
    const log = memoryLogger("info");
    const { worker } = createWorkerFromEnv({
      env: stack.workerEnv({ SERVICEBUS_ENTITIES: "orders-bench", LOG_LEVEL: "info" }),
      handlers: testHandlers,
      logger: log.logger,
      receiveWaitMs: 500,
    });
    await worker.started;
    w = { worker, log } as unknown as TestWorker;
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
  });

  it("warns within seconds that it lacks Azure Service Bus Data Receiver there, and how to grant it", async () => {
    const started = Date.now();
    const warnings = () =>
      w.log
        .lines()
        .filter((l) => l.level === "warn" && String(l.msg).startsWith("cannot receive from orders-bench"));
    await until(() => warnings().length > 0, 20_000, "the warning");
    assert.ok(
      Date.now() - started < 15_000,
      `said after ${Date.now() - started} ms, not after the SDK's 90 s`,
    );
    assert.match(
      String(warnings()[0]!.msg),
      /identity lacks Azure Service Bus Data Receiver on orders-bench: az role assignment create/,
    );
  });
});
