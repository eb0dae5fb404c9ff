/**
 * Session benchmark (not a test): what ordering costs. One run drains the same backlog, interleaved over rounds
 * (medians with min–max), from
 *
 * - a plain queue (standing credit window, WORKER_CONCURRENCY handlers at once);
 * - a session queue with the messages in 1, 10 and 100 sessions (one message at a time per session, up to
 *   WORKER_MAX_CONCURRENT_SESSIONS sessions at once).
 *
 *   node bench/sessions.bench.ts
 *   env: BENCH_MESSAGES (600), BENCH_ROUNDS (3), BENCH_HANDLER_MS (0: a no-op handler; e.g. 20 for a 20 ms one),
 *        BENCH_CONCURRENCY (16, also the session slots), BENCH_SESSION_IDLE_MS (2000, the worker's default)
 *
 * The local stack and the worker run in this process (one worker, the production code path, a handler that waits
 * BENCH_HANDLER_MS and calls nothing).
 */
import { randomUUID } from "node:crypto";

import { ServiceBusClient } from "@azure/service-bus";
import pino from "pino";
import { z } from "zod";

import { trustDevCaInProcess } from "../src/local/dev-ca.ts";
import { startLocalStack } from "../src/local/stack.ts";
import { createWorkerFromEnv, defineHandler, defineHandlers } from "../src/worker/index.ts";

const n = Number(process.env.BENCH_MESSAGES ?? 600);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const handlerMs = Number(process.env.BENCH_HANDLER_MS ?? 0);
const concurrency = process.env.BENCH_CONCURRENCY ?? "16";
const idleMs = process.env.BENCH_SESSION_IDLE_MS ?? "2000";

const queue = (name: string, sessions: boolean) => ({
  Name: name,
  Properties: { MaxDeliveryCount: 10, LockDuration: "PT1M", RequiresSession: sessions },
});
const stack = await startLocalStack({
  ports: { identity: 0, api: 0, amqps: 0, amqp: 0, brokerHttp: 0 },
  topology: {
    UserConfig: {
      Namespaces: [
        { Name: "sbemulatorns", Queues: [queue("plain", false), queue("ordered", true)], Topics: [] },
      ],
      Logging: { Type: "Console" },
    },
  },
  tenant: {
    ...(JSON.parse(
      await (
        await import("node:fs/promises")
      ).readFile((await import("../src/local/tenant/index.ts")).SAMPLE_TENANT_PATH, "utf8"),
    ) as Record<string, unknown>),
    serviceBusRoleAssignments: [
      { principal: "orders-worker", role: "Azure Service Bus Data Owner", scope: "sbemulatorns" },
    ],
  },
});
trustDevCaInProcess(stack.caCertPem);
const env = stack.env();
process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
const producer = new ServiceBusClient(env.SERVICEBUS_CONNECTION_STRING!);

const work = defineHandler({
  subject: "bench",
  schema: z.object({}),
  api: "orders",
  roles: [],
  handle: async () => {
    if (handlerMs > 0) await new Promise((r) => setTimeout(r, handlerMs));
  },
});
const handlers = defineHandlers([work]);

type Scenario = { name: string; entity: string; sessions: number | undefined };
const scenarios: Scenario[] = [
  { name: "plain queue", entity: "plain", sessions: undefined },
  { name: "1 session", entity: "ordered", sessions: 1 },
  { name: "10 sessions", entity: "ordered", sessions: 10 },
  { name: "100 sessions", entity: "ordered", sessions: 100 },
];

/** Sends the backlog, then drains it with a fresh worker: messages per second from ready to the last settlement. */
async function drain(s: Scenario): Promise<number> {
  const sender = producer.createSender(s.entity);
  const messages = Array.from({ length: n }, (_, i) => ({
    messageId: randomUUID(),
    subject: "bench",
    body: {},
    ...(s.sessions !== undefined ? { sessionId: `s${i % s.sessions}` } : {}),
  }));
  for (let i = 0; i < messages.length; i += 100) await sender.sendMessages(messages.slice(i, i + 100));
  await sender.close();
  let settled = 0;
  const done = Promise.withResolvers<void>();
  const { worker } = createWorkerFromEnv({
    env: {
      ...env,
      SERVICEBUS_ENTITIES: s.entity,
      ...(s.sessions !== undefined ? { SERVICEBUS_SESSION_ENTITIES: s.entity } : {}),
      WORKER_CONCURRENCY: concurrency,
      WORKER_MAX_CONCURRENT_SESSIONS: concurrency,
      WORKER_SESSION_IDLE_MS: idleMs,
      WORKER_HEALTH_PORT: "off",
      LOG_LEVEL: "warn",
    },
    handlers,
    logger: pino({ level: "warn" }),
  });
  worker.on("delivery.settled", (e) => {
    if (e.outcome.kind === "complete" && ++settled === n) done.resolve();
  });
  await worker.started;
  const started = performance.now();
  await done.promise;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return n / seconds;
}

const results = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
for (let round = 1; round <= rounds; round += 1) {
  for (const s of scenarios) results.get(s.name)!.push(await drain(s));
  process.stderr.write(`round ${round} of ${rounds} done\n`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const plain = median(results.get("plain queue")!);
console.log(
  `\n${n} messages, handler ${handlerMs} ms, WORKER_CONCURRENCY = WORKER_MAX_CONCURRENT_SESSIONS = ${concurrency}, WORKER_SESSION_IDLE_MS ${idleMs}, ${rounds} rounds`,
);
console.log("scenario        msg/s (median, min–max)    vs plain");
for (const s of scenarios) {
  const xs = results.get(s.name)!;
  const m = median(xs);
  console.log(
    `${s.name.padEnd(15)} ${m.toFixed(0).padStart(6)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`.padEnd(
      43,
    ) + `${((m / plain) * 100).toFixed(0)} %`,
  );
}
await producer.close();
await stack.close();
