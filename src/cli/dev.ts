import { randomUUID } from "node:crypto";
import { stdout } from "node:process";

import { ManagedIdentityCredential } from "@azure/identity";
import { ServiceBusClient } from "@azure/service-bus";

import { handlers } from "../handlers/index.ts";
import { chooseCredential, createRoleTokenProvider } from "../identity/index.ts";
import { trustDevCaInProcess } from "../local/dev-ca.ts";
import { startLocalStack } from "../local/stack.ts";
import { traceProperties } from "../telemetry/message-context.ts";
import { createLogger } from "../telemetry/logger.ts";
import { loadConfig } from "../worker/config.ts";
import type { OutcomeEvent } from "../worker/dispatcher.ts";
import { createWorker } from "../worker/worker.ts";
import { parseCommandArgs } from "./args.ts";
import { demoMessages } from "./demo-messages.ts";
import { bold, devLogView, dim, green, red, yellow } from "./dev-view.ts";

const HELP = `usage: keyless dev [--exit-when-idle] [--no-demo]

Starts the local platform (identity, Service Bus broker, sample orders API) on free ports, a worker against it with
the sample handlers, and sends a small mixed batch of demo messages. Shows what happens to each as it happens and
ends with a summary. Ctrl-C drains and exits.

options:
  --exit-when-idle   exit 0 once every demo message is settled (for scripts and CI)
  --no-demo          send nothing; just run the stack and the worker
`;

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
  const stack = await startLocalStack({
    ports: { identity: 0, api: 0, amqps: 0, amqp: 0, brokerHttp: 0 },
  });
  trustDevCaInProcess(stack.caCertPem);
  const env: Record<string, string> = {
    ...stack.env(),
    WORKER_HEALTH_PORT: "0",
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
  const labels = new Map<string, string>();
  const labelOf = (id: string | undefined) => (id ? (labels.get(id) ?? id.slice(0, 8)) : "");
  const config = loadConfig(env);
  const chosen = chooseCredential(env);
  print(dim(`  worker identity: ${chosen.description}`));
  const outcomes = new Map<string, OutcomeEvent>();
  let retries = 0;
  let resolveIdle: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => {
    resolveIdle = resolve;
  });
  const logger = createLogger({
    level: "info",
    destination: devLogView((line) => {
      if (line.includes("↻ retry")) retries += 1;
      print(line);
    }, labelOf),
  });
  const worker = createWorker(config, {
    handlers,
    tokens: createRoleTokenProvider({ credential: chosen.credential, timeoutMs: config.tokenTimeoutMs }),
    credential: chosen.credential,
    logger,
    receiveWaitMs: 1_000,
    onOutcome: (event) => {
      if (event.outcome.kind === "complete" || event.outcome.kind === "deadLetter")
        outcomes.set(event.messageId, event);
      if (demo.length > 0 && [...labels.keys()].every((id) => outcomes.has(id))) resolveIdle();
    },
  });
  await worker.started;

  if (demo.length > 0) {
    // The demo producer is the tenant's system-assigned identity (orders-producer), which may only send.
    const producer = new ServiceBusClient(
      env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!,
      new ManagedIdentityCredential(),
    );
    const sender = producer.createSender("orders");
    const messages = demo.map((d) => {
      const messageId = randomUUID();
      labels.set(messageId, d.label);
      return { messageId, subject: d.subject, body: d.body, applicationProperties: { ...traceProperties() } };
    });
    await sender.sendMessages(messages);
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
  await (values["exit-when-idle"] && demo.length > 0 ? Promise.race([allSettled, interrupt]) : interrupt);
  await worker.stop(interrupted ? "interrupted" : "demo finished");
  await stack.close();

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
