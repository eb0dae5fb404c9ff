import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";

import { startTelemetry, type Telemetry } from "../../src/telemetry/start.ts";

// Telemetry must start before the SDKs and the worker load, so everything else is imported dynamically.
const exporter = new InMemorySpanExporter();
const processor = new SimpleSpanProcessor({ exporter });
const telemetry: Telemetry = await startTelemetry({}, { spanProcessors: [processor] });
const { startTestStack } = await import("../support/stack.ts");
const { startTestWorker } = await import("../worker/support.ts");
const { withSpan } = await import("../../src/telemetry/span.ts");
const { traceProperties } = await import("../../src/telemetry/message-context.ts");

type Stack = Awaited<ReturnType<typeof startTestStack>>;
type Worker = Awaited<ReturnType<typeof startTestWorker>>;

describe("traces", () => {
  let stack: Stack;
  let w: Worker;

  /** Sends one message inside a producer span; returns its message id and the producer's trace id. */
  const produce = async (subject: string, body: unknown) =>
    withSpan("create", { kind: SpanKind.PRODUCER }, async (span) => {
      const messageId = randomUUID();
      await stack.send("orders", { messageId, subject, body, applicationProperties: traceProperties() });
      return { messageId, traceId: span.spanContext().traceId };
    });
  const spansOf = async (traceId: string): Promise<ReadableSpan[]> => {
    await new Promise((r) => setTimeout(r, 100));
    await processor.forceFlush();
    return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  };
  const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
  const parentOf = (spans: ReadableSpan[], span: ReadableSpan) =>
    spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  before(async () => {
    stack = await startTestStack();
    w = await startTestWorker(stack, { WORKER_MAX_ATTEMPTS: "3" });
  });
  after(async () => {
    await w?.worker.stop();
    await stack?.close();
    await telemetry.shutdown();
  });

  it("continues the producer's trace: process, token, API client and server, settlement in one tree", async () => {
    const { messageId, traceId } = await produce("orders.fulfil", { orderId: `t-${randomUUID()}` });
    await w.settled([messageId]);
    const spans = await spansOf(traceId);
    const [process] = byName(spans, "process orders");
    assert.ok(process, `spans: ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(process.kind, SpanKind.CONSUMER);
    assert.equal(parentOf(spans, process)?.name, "create", "the producer span is the parent");
    assert.equal(process.links[0]?.context.traceId, traceId, "and a link, as the conventions recommend");
    assert.equal(process.attributes["messaging.system.name"], "azure.servicebus");
    assert.equal(process.attributes["messaging.destination.name"], "orders");
    assert.equal(process.attributes["messaging.message.id"], messageId);
    assert.equal(process.attributes["azure.servicebus.message.delivery_count"], 0);
    assert.equal(process.attributes["keyless.handler"], "orders.fulfil");
    assert.equal(process.attributes["keyless.outcome"], "complete");

    const [client] = byName(spans, "POST");
    assert.equal(client?.kind, SpanKind.CLIENT);
    assert.equal(parentOf(spans, client!)?.name, "process orders");
    assert.equal(client?.attributes["http.response.status_code"], 201);
    assert.doesNotMatch(String(client?.attributes["url.full"]), /\?/);
    const [token] = byName(spans, "token orders");
    assert.equal(parentOf(spans, token!)?.name, "POST");
    assert.equal(typeof token?.attributes["keyless.token.cache_hit"], "boolean");
    const [server] = byName(spans, "POST /orders/:id/fulfilment");
    assert.equal(server?.kind, SpanKind.SERVER);
    assert.equal(
      parentOf(spans, server!)?.spanContext().spanId,
      client?.spanContext().spanId,
      "the API's server span joins the worker's trace",
    );
    const [settle] = byName(spans, "complete orders");
    assert.equal(settle?.attributes["azure.servicebus.disposition_status"], "complete");
    const sdkSettleSpans = spans.filter((s) =>
      /^Service[Bb]usReceiver\.(complete|abandon|deadLetter)$/.test(s.name),
    );
    assert.deepEqual(
      sdkSettleSpans.map((s) => s.name),
      [],
      "one settlement span, ours: the SDK's duplicate (with its mixed casing) is suppressed",
    );
  });

  it("records each in-process retry as an event with its delay and reason", async () => {
    const { messageId, traceId } = await produce("orders.fulfil", { orderId: `flaky-2-${randomUUID()}` });
    await w.settled([messageId]);
    const spans = await spansOf(traceId);
    const [process] = byName(spans, "process orders");
    const retries = process?.events.filter((e) => e.name === "retry") ?? [];
    assert.equal(retries.length, 2);
    assert.match(String(retries[0]?.attributes?.["keyless.retry.reason"]), /503/);
    assert.equal(typeof retries[0]?.attributes?.["keyless.retry.delay_ms"], "number");
    assert.equal(
      byName(spans, "POST").filter((s) => s.status.code === 2).length,
      2,
      "the failed calls are errors",
    );
    assert.equal(process?.attributes["keyless.outcome"], "complete");
    assert.equal(process?.status.code, 0, "a message that completed is not an error");
  });

  it("records a dead-letter's reason without calling it a crash", async () => {
    const { messageId, traceId } = await produce("orders.fulfil", { order: 1 });
    await w.settled([messageId]);
    const spans = await spansOf(traceId);
    const [process] = byName(spans, "process orders");
    assert.equal(process?.attributes["keyless.dead_letter.reason"], "InvalidBody");
    assert.equal(process?.status.code, 0);
    const [settle] = byName(spans, "dead_letter orders");
    assert.equal(settle?.attributes["azure.servicebus.disposition_status"], "dead_letter");
    assert.equal(settle?.attributes["keyless.dead_letter.reason"], "InvalidBody");
  });

  it("names the messaging system on keyless send's span as on the worker's, in one trace", async () => {
    const messageId = randomUUID();
    const { sendRun } = await import("../../src/operator/send.ts");
    const { traceId } = await sendRun(stack.admin, {
      entity: "orders",
      templates: [{ messageId, subject: "orders.fulfil", body: { orderId: `t-${randomUUID()}` } }],
      count: 1,
      defaults: {},
    });
    await w.settled([messageId]);
    const spans = await spansOf(traceId!);
    const [send] = byName(spans, "send orders");
    const [process] = byName(spans, "process orders");
    assert.ok(send && process, `spans: ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(send.attributes["messaging.system.name"], "azure.servicebus");
    assert.equal(send.attributes["messaging.system.name"], process.attributes["messaging.system.name"]);
    assert.equal(send.attributes["messaging.system"], undefined, "the old name is gone");
    // The Azure SDK's own spans stay where the worker does not stand in for them.
    const sdkSend = byName(spans, "ServiceBusSender.send");
    assert.equal(sdkSend.length, 1, `spans: ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(parentOf(spans, sdkSend[0]!)?.name, "send orders");
    assert.equal(sdkSend[0]!.attributes["az.namespace"], "Microsoft.ServiceBus");
    // …and are left out where it does: no `StreamReceiver.process` (a root of its own) in any trace.
    assert.deepEqual(byName(exporter.getFinishedSpans(), "StreamReceiver.process"), []);
  });

  it("puts no token or Authorization header in any attribute or event", () => {
    const text = JSON.stringify(
      exporter
        .getFinishedSpans()
        .map((s) => ({ a: s.attributes, e: s.events.map((e) => e.attributes), n: s.name })),
    );
    assert.ok(text.length > 1000);
    assert.doesNotMatch(text, /eyJ[\w-]+\.[\w-]+/);
    assert.doesNotMatch(text, /bearer /i);
    assert.doesNotMatch(text, /authorization/i);
  });
});
