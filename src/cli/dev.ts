import { randomUUID } from "node:crypto";
import { stdout } from "node:process";

import type { OutcomeEvent } from "../worker/index.ts";
import { parseCommandArgs } from "./args.ts";
import { demoMessages, ORDERED_QUEUE } from "./demo-messages.ts";
import { bold, devLogView, dim, green, red, watchWorker, yellow } from "./dev-view.ts";

const HELP = `usage: keyless dev [--exit-when-idle] [--no-demo]

Starts the local platform (identity, Service Bus broker, sample orders API) on free ports, a worker against it with
the sample handlers, and sends a small mixed batch of demo messages. Shows what happens to each as it happens and
ends with a summary. Ctrl-C drains and exits.

options:
  --exit-when-idle   exit 0 once every demo message is settled (for scripts and CI)
  --no-demo          send nothing; just run the stack and the worker
`;

const indent = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("dev", argv, {
    help: { type: "boolean", short: "h" },
    "exit-when-idle": { type: "boolean" },
    "no-demo": { type: "boolean" },
  });
  if (values.help) {
    stdout.write(HELP);
    return 0;
  }
  const print = (line: string) => stdout.write(`${line}\n`);
  const outcomes = new Map<string, OutcomeEvent>();
  const labels = new Map<string, string>();
  const traceLabels = new Map<string, string>();
  const printedTraces = new Set<string>();
  // Settled: every demo message has its final outcome and its span tree is on screen. The view goes quiet then,
  // so it says so.
  let settled = false;
  let spanTreesLate = false;
  let resolveSettled: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => {
    resolveSettled = resolve;
  });
  const checkSettled = () => {
    if (settled || labels.size === 0 || ![...labels.keys()].every((id) => outcomes.has(id))) return;
    if (spanTreesLate || [...traceLabels.keys()].every((t) => printedTraces.has(t))) {
      settled = true;
      resolveSettled();
      return;
    }
    // A span tree may still be on its way: wait for it a moment, never forever.
    setTimeout(() => {
      spanTreesLate = true;
      checkSettled();
    }, 1_000).unref();
  };
  // Telemetry starts before the SDKs load; each message's spans are printed as a tree when it is processed.
  const { startTelemetry } = await import("../telemetry/start.ts");
  const { TraceCollector, formatSpanTree } = await import("../telemetry/span-tree.ts");
  const telemetry = await startTelemetry(process.env, {
    serviceName: "keyless-dev",
    spanProcessors: [
      new TraceCollector((traceId, spans) => {
        const label = traceLabels.get(traceId);
        if (!label) return;
        print(dim(`  ┌ spans of ${label} (trace ${traceId})\n${indent(formatSpanTree(spans), "  │ ")}`));
        printedTraces.add(traceId);
        checkSettled();
      }),
    ],
  });
  const { ManagedIdentityCredential } = await import("@azure/identity");
  const { ServiceBusClient } = await import("@azure/service-bus");
  const { handlers } = await import("../handlers/index.ts");
  const { trustDevCaInProcess } = await import("@keyless/local/dev-ca");
  const { startLocalStack } = await import("@keyless/local/stack");
  const { traceProperties } = await import("../telemetry/message-context.ts");
  const { SpanKind, withSpan } = await import("../telemetry/span.ts");
  const { createLogger } = await import("../telemetry/logger.ts");
  const { createWorkerFromEnv } = await import("../worker/start.ts");

  const stack = await startLocalStack({
    ports: { identity: 0, api: 0, amqps: 0, amqp: 0, brokerHttp: 0 },
  });
  trustDevCaInProcess(stack.caCertPem);
  const stackEnv = stack.env();
  const env: Record<string, string> = {
    ...stackEnv, // WORKER_HEALTH_PORT=0 among them: a free port
    // The ordered flow's session queue beside the stack's queue.
    SERVICEBUS_ENTITIES: `${stackEnv.SERVICEBUS_ENTITIES},${ORDERED_QUEUE}`,
    SERVICEBUS_SESSION_ENTITIES: ORDERED_QUEUE,
    WORKER_BACKOFF_BASE_MS: "300",
    LOG_LEVEL: "info",
  };
  // MSAL reads the managed-identity endpoint from process.env, once per process.
  Object.assign(process.env, {
    IDENTITY_ENDPOINT: env.IDENTITY_ENDPOINT,
    IDENTITY_HEADER: env.IDENTITY_HEADER,
  });

  print(bold("keyless dev: the whole flow on this machine, no secrets"));
  print(
    dim(
      `  identity ${stack.identity.identityEndpoint} · broker amqps://localhost:${stack.broker.tlsPort} · orders API ${stack.ordersApi.url}`,
    ),
  );

  const demo = values["no-demo"] ? [] : demoMessages(randomUUID().slice(0, 4));
  const labelOf = (id: string | undefined) => (id ? (labels.get(id) ?? id.slice(0, 8)) : "");
  let retries = 0;
  const logger = createLogger({
    level: "info",
    destination: devLogView(print),
  });
  const { worker, identity } = createWorkerFromEnv({ env, handlers, logger, receiveWaitMs: 1_000 });
  print(dim(`  worker identity: ${identity}`));
  watchWorker(worker, print, labelOf);
  worker.on("delivery.retried", () => (retries += 1));
  worker.on("delivery.settled", (event) => {
    if (event.outcome.kind === "complete" || event.outcome.kind === "deadLetter")
      outcomes.set(event.messageId, event);
    checkSettled();
  });
  await worker.started;

  if (demo.length > 0) {
    // The demo producer is the tenant's system-assigned identity (orders-producer), which may only send.
    const producer = new ServiceBusClient(
      env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!,
      new ManagedIdentityCredential(),
    );
    // Each demo message gets its own producer span, so each one reads as its own trace.
    const messages = await Promise.all(
      demo.map((d) =>
        withSpan(`create ${d.label}`, { kind: SpanKind.PRODUCER }, async (span) => {
          const messageId = randomUUID();
          labels.set(messageId, d.label);
          traceLabels.set(span.spanContext().traceId, d.label);
          return {
            messageId,
            subject: d.subject,
            body: d.body,
            applicationProperties: { ...traceProperties() },
            ...(d.session ? { sessionId: d.session } : {}),
          };
        }),
      ),
    );
    // One batch per queue, in list order: a session's messages keep the order they are listed in.
    await producer.createSender("orders").sendMessages(messages.filter((m) => m.sessionId === undefined));
    await producer
      .createSender(ORDERED_QUEUE)
      .sendMessages(messages.filter((m) => m.sessionId !== undefined));
    await producer.close();
    print(`sent ${demo.length} demo messages:`);
    for (const d of demo) print(dim(`  ${d.label.padEnd(10)} ${d.shows}`));
  }

  let interrupted = false;
  const interrupt = new Promise<void>((resolve) => {
    const onSignal = () => {
      interrupted = true;
      resolve();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
  const exitWhenIdle = values["exit-when-idle"] && demo.length > 0;
  void allSettled.then(() =>
    print(
      bold(
        `all ${demo.length} demo messages settled${exitWhenIdle ? "" : " — Ctrl-C for the summary (the stack and worker keep running)"}`,
      ),
    ),
  );
  if (demo.length === 0) print(bold("no demo messages; the stack and worker are running — Ctrl-C to stop"));
  await (exitWhenIdle ? Promise.race([allSettled, interrupt]) : interrupt);
  await worker.stop(interrupted ? "interrupted" : "demo finished");
  await stack.close();
  await new Promise((r) => setTimeout(r, 50)); // let the last trace print
  await telemetry.shutdown();

  if (demo.length > 0) {
    print("");
    print(bold("summary"));
    for (const [id, label] of labels) {
      const event = outcomes.get(id);
      const outcome = event?.outcome;
      const text =
        outcome?.kind === "complete"
          ? green("completed")
          : outcome?.kind === "deadLetter"
            ? red(`dead-lettered: ${outcome.reason}`)
            : yellow("not settled");
      print(
        `  ${label.padEnd(10)} ${text}${event ? dim(`  ${event.durationMs} ms, trace ${event.traceId ?? "-"}`) : ""}`,
      );
    }
    const completed = [...outcomes.values()].filter((e) => e.outcome.kind === "complete").length;
    print(
      dim(
        `  ${completed} completed, ${outcomes.size - completed} dead-lettered, ${retries} in-process retries`,
      ),
    );
  }
  return 0;
}
