import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { ServiceBusReceivedMessage } from "@azure/service-bus";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { runKeyless } from "./support.ts";

interface Summary {
  ok: boolean;
  sent: number;
  batches: number;
  durationMs: number;
  traceId: string;
  messageIds: string[];
}

/**
 * keyless send as its own process, as the system-assigned identity (orders-producer: Data Sender on orders) through
 * the managed-identity endpoint and AMQPS, like a producer in Azure.
 */
describe("keyless send", () => {
  let stack: TestStack;
  let producerEnv: Record<string, string>;
  let dir: string;

  const peekAll = async (queue: string): Promise<ServiceBusReceivedMessage[]> => {
    const receiver = stack.admin.createReceiver(queue);
    try {
      return await receiver.peekMessages(1000);
    } finally {
      await receiver.close();
    }
  };

  before(async () => {
    stack = await startTestStack();
    const { AZURE_CLIENT_ID: _, ...env } = stack.env();
    producerEnv = env;
    dir = await mkdtemp(join(tmpdir(), "keyless-send-"));
  });

  after(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends --count messages with unique ids, {n} filled in, and the producer's trace context on each", async () => {
    const run = await runKeyless(
      [
        "send",
        "--entity",
        "orders",
        "--subject",
        "orders.fulfil",
        "--body",
        '{"orderId":"load-{n}"}',
        "--count",
        "25",
        "--property",
        "source=test-{n}",
        "--json",
      ],
      producerEnv,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const summary = run.json<Summary>();
    assert.equal(summary.sent, 25);
    assert.equal(new Set(summary.messageIds).size, 25);
    assert.match(summary.traceId, /^[0-9a-f]{32}$/);

    const byId = new Map((await peekAll("orders")).map((m) => [String(m.messageId), m]));
    summary.messageIds.forEach((id, index) => {
      const m = byId.get(id);
      assert.ok(m, `message ${id} is on the queue`);
      assert.deepEqual(m.body, { orderId: `load-${index + 1}` });
      assert.equal(m.subject, "orders.fulfil");
      assert.equal(m.contentType, "application/json");
      assert.equal(m.applicationProperties?.source, `test-${index + 1}`);
      const traceparent = String(m.applicationProperties?.traceparent);
      assert.match(traceparent, new RegExp(`^00-${summary.traceId}-[0-9a-f]{16}-01$`));
      assert.equal(m.applicationProperties?.["Diagnostic-Id"], traceparent);
    });
  });

  it("keeps to --rate and stops by itself after --count", async () => {
    const run = await runKeyless(
      ["send", "--entity", "orders", "--body", '{"n":"{n}"}', "--count", "6", "--rate", "4/s", "--json"],
      producerEnv,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const summary = run.json<Summary>();
    assert.equal(summary.sent, 6);
    // Six messages at four a second: the last is due 1.25 s after the first.
    assert.ok(summary.durationMs >= 1_200, `took only ${summary.durationMs} ms`);
    assert.ok(summary.batches >= 3, `sent in ${summary.batches} batches`);
  });

  it("reads JSON lines: envelopes and bare bodies, with session id and a scheduled time", async () => {
    const file = join(dir, "messages.jsonl");
    await writeFile(
      file,
      [
        "# comment lines and blank lines are skipped",
        '{"body":{"orderId":"E-{n}"},"subject":"orders.refund","messageId":"env-{n}","applicationProperties":{"tries":2}}',
        "",
        '{"orderId":"bare"}',
      ].join("\n"),
    );
    const scheduledAt = new Date(Date.now() + 3_600_000).toISOString();
    const run = await runKeyless(
      [
        "send",
        "--entity",
        "orders",
        "--file",
        file,
        "--subject",
        "orders.fulfil",
        "--scheduled-at",
        scheduledAt,
        "--session-id",
        "s-1",
        "--json",
      ],
      producerEnv,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const summary = run.json<Summary>();
    assert.equal(summary.sent, 2);
    assert.equal(summary.messageIds[0], "env-1");
    await stack.waitForCounts("orders", (c) => c.scheduled >= 2);
  });

  it("refuses clearly when the identity lacks Data Sender", async () => {
    const run = await runKeyless(
      ["send", "--entity", "orders", "--body", "{}", "--client-id", "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36"],
      producerEnv,
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /lacks Azure Service Bus Data Sender on orders/);
  });

  it("explains a usage mistake with exit code 2", async () => {
    const run = await runKeyless(["send", "--entity", "orders"], producerEnv);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /give exactly one of --body or --file/);
  });

  it("refuses an OTLP protocol no exporter speaks before sending anything, naming the variable", async () => {
    const run = await runKeyless(["send", "--entity", "orders", "--body", "{}"], {
      ...producerEnv,
      OTEL_EXPORTER_OTLP_PROTOCOL: "protobuf",
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: expected one of http\/protobuf, http\/json, grpc/);
    assert.doesNotMatch(run.stderr, /sending 1 message/);
  });
});
