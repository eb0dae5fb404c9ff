import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { ServiceBusReceivedMessage } from "@azure/service-bus";

import { handlers } from "../../src/handlers/index.ts";
import { type DeadLetterRow, resubmissionOf } from "../../src/operator/dlq.ts";
import type { OutcomeEvent } from "../../src/worker/dispatcher.ts";
import { createWorkerFromEnv } from "../../src/worker/start.ts";
import type { WorkerHandle } from "../../src/worker/worker.ts";
import { memoryLogger, startTestStack, type TestStack } from "../support/stack.ts";
import { runKeyless } from "./support.ts";

const ADMIN_CLIENT_ID = "9600f50e-2365-4746-995f-dfd2972ecd9e";

/**
 * keyless dlq against the local broker as the admin identity (Data Owner), with a real worker on the queue: two
 * messages dead-lettered earlier as ApiRejected (the API was down), one dead-lettered by the worker as
 * MissingAppRole (the sample identity lacks Orders.Refund).
 */
describe("keyless dlq", () => {
  let stack: TestStack;
  let worker: WorkerHandle;
  let cliEnv: Record<string, string | undefined>;
  const outcomes = new Map<string, OutcomeEvent>();
  const log = memoryLogger("warn");
  const rejectedIds = [randomUUID(), randomUUID()];
  const refundId = randomUUID();

  const outcomeOf = async (messageId: string, kind: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const event = outcomes.get(messageId);
      if (event?.outcome.kind === kind) return event;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`message ${messageId} never reached ${kind}; log:\n${log.text().slice(-3000)}`);
  };

  before(async () => {
    stack = await startTestStack();
    const env = stack.env();
    cliEnv = {
      IDENTITY_ENDPOINT: env.IDENTITY_ENDPOINT,
      IDENTITY_HEADER: env.IDENTITY_HEADER,
      SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE,
      NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS,
      AZURE_CLIENT_ID: env.AZURE_CLIENT_ID, // the worker's; the admin identity wins for dlq
      KEYLESS_ADMIN_CLIENT_ID: ADMIN_CLIENT_ID,
    };

    // Earlier failures, before the worker runs: dead-lettered the way the worker does, with its properties.
    await stack.send(
      "orders",
      rejectedIds.map((messageId, i) => ({
        messageId,
        subject: "orders.fulfil",
        contentType: "application/json",
        correlationId: `corr-${i}`,
        body: { orderId: `dlq-${messageId}` },
        applicationProperties: { tenant: "contoso", "keyless-attempts": 3 },
      })),
    );
    const receiver = stack.admin.createReceiver("orders");
    const received: ServiceBusReceivedMessage[] = [];
    while (received.length < 2)
      received.push(...(await receiver.receiveMessages(2 - received.length, { maxWaitTimeInMs: 2_000 })));
    for (const m of received) {
      await receiver.deadLetterMessage(m, {
        deadLetterReason: "ApiRejected",
        deadLetterErrorDescription: "orders API answered 503 three times",
      });
    }
    await receiver.close();

    ({ worker } = createWorkerFromEnv({
      env: stack.workerEnv(),
      handlers,
      logger: log.logger,
      receiveWaitMs: 500,
      serviceBusClientOptions: { retryOptions: { maxRetries: 2, retryDelayInMs: 200 } },
    }));
    worker.on("delivery.settled", (event) => outcomes.set(event.messageId, event));
    await worker.started;
    await stack.send("orders", {
      messageId: refundId,
      subject: "orders.refund",
      body: { orderId: "dlq-refund", amount: 5, currency: "EUR" },
    });
    await outcomeOf(refundId, "deadLetter");
  });

  after(async () => {
    await worker?.stop("test over");
    await stack?.close();
  });

  it("lists dead-lettered messages with reason, description, delivery count and age", async () => {
    const run = await runKeyless(["dlq", "list", "orders", "--json"], cliEnv);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const { messages } = run.json<{ messages: DeadLetterRow[] }>();
    assert.equal(messages.length, 3);
    const refund = messages.find((m) => m.messageId === refundId);
    assert.equal(refund?.reason, "MissingAppRole");
    assert.match(refund.description ?? "", /Orders\.Refund/);
    assert.equal(refund.subject, "orders.refund");
    assert.equal(messages.filter((m) => m.reason === "ApiRejected").length, 2);
    for (const m of messages) {
      // Each was delivered once (to the worker or the test's receiver), then dead-lettered.
      assert.equal(m.deliveries, 1, m.messageId);
      assert.ok((m.ageMs ?? -1) >= 0);
    }
  });

  it("shows the whole description, fix included, and a message delivered once as 1 delivery", async () => {
    const json = await runKeyless(["dlq", "list", "orders", "--json"], cliEnv);
    const refund = json.json<{ messages: DeadLetterRow[] }>().messages.find((m) => m.messageId === refundId)!;
    assert.ok((refund.description ?? "").length > 200, "a description longer than any column");

    const text = await runKeyless(["dlq", "list", "orders", "--reason", "missingapprole"], cliEnv);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n");
    const header = lines.findIndex((l) => /^seq\s+message id\s+subject\s+reason\s+deliveries\s+age$/.test(l));
    assert.ok(header >= 0, text.stdout);
    const row = lines.find((l) => l.includes(refundId)) ?? "";
    assert.match(row, new RegExp(`${refundId}\\s+orders\\.refund\\s+MissingAppRole\\s+1\\s+\\d+ s$`));
    const beneath = lines
      .slice(lines.indexOf(row) + 1)
      .filter((l) => l.startsWith("    "))
      .map((l) => l.trim())
      .join(" ");
    // Wrapped to the terminal, each of its own lines kept: the same words, in order, nothing cut.
    assert.equal(
      beneath,
      refund.description?.replace(/\s+/g, " "),
      "the description, whole, wrapped beneath its row",
    );
    assert.match(beneath, /Fix: keyless grant --identity \S+ --api \S+ --role Orders\.Refund/);
    assert.ok(!rejectedIds.some((id) => text.stdout.includes(id)), "the reason filter applies");
  });

  it("changes nothing on resubmit --dry-run", async () => {
    const run = await runKeyless(
      ["dlq", "resubmit", "orders", "--reason", "ApiRejected", "--dry-run", "--json"],
      cliEnv,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json<{ count: number }>().count, 2);
    assert.equal((await stack.waitForCounts("orders", () => true)).deadLettered, 3);
  });

  it("resubmits by reason and the worker processes them, with the original ids as Idempotency-Key", async () => {
    const run = await runKeyless(["dlq", "resubmit", "orders", "--reason", "ApiRejected", "--json"], cliEnv);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = run.json<{ done: number; messageIds: string[] }>();
    assert.equal(result.done, 2);
    assert.deepEqual([...result.messageIds].sort(), [...rejectedIds].sort());

    for (const id of rejectedIds) {
      await outcomeOf(id, "complete");
      const call = stack.ordersApi.journal().find((r) => r.orderId === `dlq-${id}` && r.method === "POST");
      assert.equal(call?.idempotencyKey, id);
    }
    // Only the MissingAppRole message is left, untouched.
    await stack.waitForCounts("orders", (c) => c.deadLettered === 1 && c.active === 0 && c.locked === 0);
    const left = await runKeyless(["dlq", "list", "orders", "--json"], cliEnv);
    assert.deepEqual(
      left.json<{ messages: DeadLetterRow[] }>().messages.map((m) => m.messageId),
      [refundId],
    );
  });

  it("copies body and properties, drops the worker's, and records the resubmission", () => {
    const original = {
      messageId: "m-1",
      body: { orderId: "A" },
      subject: "orders.fulfil",
      contentType: "application/json",
      correlationId: "c-1",
      deadLetterReason: "MissingAppRole",
      applicationProperties: {
        tenant: "contoso",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        DeadLetterReason: "MissingAppRole",
        DeadLetterErrorDescription: "lacks Orders.Refund",
        "keyless-attempts": 1,
        "keyless-resubmit-count": 1,
        "keyless-original-message-id": "m-0",
      },
    } as unknown as ServiceBusReceivedMessage;
    const now = new Date("2030-01-01T00:00:00.000Z");
    const copy = resubmissionOf(original, { now });
    assert.equal(copy.messageId, "m-1");
    assert.deepEqual(copy.body, { orderId: "A" });
    assert.equal(copy.subject, "orders.fulfil");
    assert.equal(copy.correlationId, "c-1");
    assert.deepEqual(copy.applicationProperties, {
      tenant: "contoso",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "keyless-resubmitted-at": "2030-01-01T00:00:00.000Z",
      "keyless-resubmit-count": 2,
      "keyless-original-message-id": "m-0",
      "keyless-resubmitted-from": "MissingAppRole",
    });
    assert.notEqual(resubmissionOf(original, { newMessageId: true }).messageId, "m-1");
  });

  it("refuses to purge without --yes when nobody can be asked, then purges with it", async () => {
    const refused = await runKeyless(["dlq", "purge", "orders"], cliEnv);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /pass --yes/);
    assert.equal((await stack.waitForCounts("orders", () => true)).deadLettered, 1);

    const run = await runKeyless(["dlq", "purge", "orders", "--yes", "--json"], cliEnv);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json<{ done: number }>().done, 1);
    await stack.waitForCounts("orders", (c) => c.deadLettered === 0);
  });
});
