/**
 * Worker benchmark (not a test): messages/s and enqueue→complete latency of the keyless worker against a baseline
 * in the same run — the raw SDK's subscribe() with the same concurrency making the same API call — plus the worker
 * with telemetry exporting over OTLP to a local receiver, and RSS while it works through a large backlog.
 *
 *   node bench/worker.bench.ts [messages=2000] [backlog=50000] [concurrency=16]
 *
 * The local stack (identity, broker, sample API) runs in this process; each consumer runs in its own child process
 * so its memory and telemetry set-up are its own.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const [mode, scenario] = process.argv.slice(2);

if (mode === "child") await child(scenario ?? "worker");
else await parent();

async function parent(): Promise<void> {
  const [n = "2000", backlog = "50000", concurrency = "16"] = process.argv.slice(2);
  const { startLocalStack } = await import("../src/local/stack.ts");
  const { ServiceBusClient } = await import("@azure/service-bus");
  const stack = await startLocalStack({
    ports: { identity: 0, api: 0, amqps: 0, amqp: 0, brokerHttp: 0 },
    topology: {
      UserConfig: {
        Namespaces: [
          {
            Name: "sbemulatorns",
            Queues: [{ Name: "orders", Properties: { MaxDeliveryCount: 10, LockDuration: "PT1M" } }],
            Topics: [],
          },
        ],
        Logging: { Type: "Console" },
      },
    },
  });
  // A local OTLP receiver that accepts and counts, for the telemetry-on run.
  let otlpBytes = 0;
  const otlp = createServer((req, res) => {
    req.on("data", (c: Buffer) => (otlpBytes += c.length));
    req.on("end", () => res.writeHead(200).end("{}"));
  }).listen(0, "127.0.0.1");
  await new Promise((r) => otlp.once("listening", r));
  const otlpUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;
  const producer = new ServiceBusClient(stack.env().SERVICEBUS_CONNECTION_STRING!);
  const sender = producer.createSender("orders");

  const send = async (count: number) => {
    for (let sent = 0; sent < count;) {
      const batch = await sender.createMessageBatch();
      while (sent < count) {
        const ok = batch.tryAddMessage({
          messageId: randomUUID(),
          subject: "orders.fulfil",
          body: { orderId: `b-${randomUUID()}` },
          applicationProperties: { sentAt: Date.now() },
        });
        if (!ok) break;
        sent += 1;
      }
      await sender.sendMessages(batch);
    }
  };

  const run = (name: string, count: number, preload: boolean, extraEnv: Record<string, string> = {}) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      void (async () => {
        if (preload) await send(count);
        const child = spawn(process.execPath, [new URL(import.meta.url).pathname, "child", name], {
          env: {
            ...process.env,
            ...stack.env(),
            WORKER_CONCURRENCY: concurrency,
            WORKER_HEALTH_PORT: "off",
            LOG_LEVEL: "warn",
            BENCH_COUNT: String(count),
            ...extraEnv,
          },
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("exit", () => {
          const line = out.trim().split("\n").pop() ?? "";
          try {
            resolve(JSON.parse(line) as Record<string, number>);
          } catch {
            reject(new Error(`${name} printed no result: ${out.slice(-500)}`));
          }
        });
        if (!preload) {
          await new Promise((r) => setTimeout(r, 1500)); // let it connect
          await send(count);
        }
      })().catch(reject);
    });

  const rows: Array<[string, Record<string, number>]> = [];
  console.log(
    `${n} messages, concurrency ${concurrency}, each handler POSTs to the sample API with a role-scoped token`,
  );
  rows.push(["baseline: SDK subscribe()", await run("baseline", Number(n), false)]);
  rows.push(["keyless worker", await run("worker", Number(n), false)]);
  rows.push([
    "keyless worker + OTLP",
    await run("worker", Number(n), false, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl }),
  ]);
  if (Number(backlog) > 0)
    rows.push([`keyless worker, ${backlog} backlog`, await run("worker", Number(backlog), true)]);

  console.log("\nscenario                          msg/s   p50 ms   p99 ms   peak RSS MB");
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(32)} ${String(r.rate).padStart(6)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.rssMb).padStart(12)}`,
    );
  }
  const [base, worker, otel] = rows.map(([, r]) => r);
  if (base && worker && otel) {
    console.log(
      `\nworker vs baseline: ${pct(worker.rate!, base.rate!)} throughput; telemetry on vs off: ${pct(otel.rate!, worker.rate!)} throughput (${Math.round(otlpBytes / 1024)} KiB of OTLP sent)`,
    );
  }
  await producer.close();
  otlp.close();
  await stack.close();
}

function pct(a: number, b: number): string {
  const d = ((a - b) / b) * 100;
  return `${d >= 0 ? "+" : ""}${d.toFixed(1)}%`;
}

async function child(name: string): Promise<void> {
  const count = Number(process.env.BENCH_COUNT);
  const latencies: number[] = [];
  let first = 0;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const done = Promise.withResolvers<void>();
  const record = (sentAt: unknown) => {
    first ||= Date.now();
    latencies.push(Date.now() - Number(sentAt));
    if (latencies.length >= count) done.resolve();
  };
  const { trustExtraCaFromEnvironment } = await import("../src/cli/extra-ca.ts");
  trustExtraCaFromEnvironment();
  const { startTelemetry } = await import("../src/telemetry/start.ts");
  const telemetry = await startTelemetry(process.env);
  const concurrency = Number(process.env.WORKER_CONCURRENCY);
  let stop: () => Promise<void>;

  if (name === "baseline") {
    const { ManagedIdentityCredential } = await import("@azure/identity");
    const { ServiceBusClient } = await import("@azure/service-bus");
    const credential = new ManagedIdentityCredential({ clientId: process.env.AZURE_CLIENT_ID! });
    const client = new ServiceBusClient(process.env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!, credential);
    const receiver = client.createReceiver("orders");
    const base = process.env.API_ORDERS_BASE_URL!;
    const subscription = receiver.subscribe(
      {
        async processMessage(message) {
          const { token } = await credential.getToken(process.env.API_ORDERS_SCOPE!);
          const body = message.body as { orderId: string };
          const response = await fetch(new URL(`orders/${body.orderId}/fulfilment`, base), {
            method: "POST",
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              "idempotency-key": String(message.messageId),
            },
            body: "{}",
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          await response.arrayBuffer();
          record(message.applicationProperties?.sentAt);
        },
        async processError() {},
      },
      { maxConcurrentCalls: concurrency },
    );
    stop = async () => {
      await subscription.close();
      await client.close();
    };
  } else {
    const { main } = await import("./worker-child.ts");
    stop = await main(record);
  }
  await done.promise;
  const durationMs = Date.now() - first;
  await stop();
  await telemetry.shutdown();
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  console.log(
    JSON.stringify({
      rate: Math.round((count / durationMs) * 1000),
      p50: at(0.5),
      p99: at(0.99),
      rssMb: Math.round(peakRss / 1024 / 1024),
    }),
  );
}
