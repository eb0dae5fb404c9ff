/**
 * Worker benchmark (not a test). One run prints, interleaved (A B A B …, several rounds, medians with min–max):
 *
 * - throughput draining a backlog, no-op handler (peek-lock + complete): keyless vs raw `subscribe()` at the same
 *   concurrency vs the broker's receive-and-delete ceiling;
 * - the same with a handler calling a 20 ms API with a role-scoped token;
 * - latency overhead at a fixed send rate both sustain, p50/p99: enqueue→complete minus the API's own time for that
 *   message (from its journal), after a warm-up drained at full speed (BENCH_LATENCY_WARMUP, default 5 000);
 * - keyless with telemetry on (OTLP/HTTP to a local receiver) vs off, no-op handler;
 * - the no-op rows again with a network round trip between consumer and broker (BENCH_RTT_MS, default 4 ms; a
 *   delaying TCP proxy on loopback): loopback alone hides what a real namespace costs per round trip;
 * - process start → ready (/readyz's condition), from each keyless run;
 * - RSS while keyless drains a large backlog, sampled every second, and while raw `subscribe()` drains the same.
 *
 * Each throughput row gives the CPU per message of the consumer and of this process (the broker): a row whose
 * consumer is well below a core is bound by the round trips, not by its own work.
 *
 * Each throughput run first settles BENCH_WARMUP messages that are not measured: a consumer runs for hours, and V8's
 * optimizing compiler is still at work (on its own threads, but on the same cores) through the first ~15 000 no-op
 * messages, more for the worker, which has more code to compile, than for `subscribe()` (docs/configuration.md).
 *
 *   npm run bench                      full: 10 000 measured after 15 000 warm-up, 5 rounds, 50 000 for RSS
 *   BENCH_QUICK=1 npm run bench        quick: 600 measured after 1000 warm-up, 3 rounds, 5 000 for RSS
 *   env: BENCH_MESSAGES, BENCH_WARMUP, BENCH_ROUNDS, BENCH_BACKLOG, BENCH_RATE, BENCH_LATENCY_WARMUP, BENCH_CONCURRENCY,
 *   BENCH_RTT_MS (0: no such rows), BENCH_ONLY (row-name parts; a part ending in $ is a whole name);
 *   other WORKER_* variables reach the keyless consumers as they are (e.g. WORKER_READ_AHEAD=16)
 *
 * The local stack (identity, broker, sample API) runs in this process; each consumer runs in its own child process
 * so its memory and telemetry set-up are its own. Both consumers load this repository's node_modules, rhea's patches
 * included (docs/upstream.md): `subscribe()` here has TCP_NODELAY and coalesced writes, as a project without the
 * patches would not.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from "node:net";

type Result = Record<string, number | number[] | Array<[string, number]>>;
type Scenario = "keyless-noop" | "keyless-api" | "raw-noop" | "raw-api" | "ceiling";

const API_MS = 20;
const [mode, scenario] = process.argv.slice(2);

if (mode === "child") await child(scenario as Scenario);
else await parent();

async function parent(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  const n = Number(process.env.BENCH_MESSAGES ?? (quick ? 600 : 10_000));
  const warmup = Number(process.env.BENCH_WARMUP ?? (quick ? 1000 : 15_000));
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 5));
  const backlog = Number(process.env.BENCH_BACKLOG ?? (quick ? 5000 : 50_000));
  const rate = Number(process.env.BENCH_RATE ?? 200);
  const latencyWarmup = Number(process.env.BENCH_LATENCY_WARMUP ?? (quick ? 500 : 5000));
  const rateSeconds = quick ? 3 : 6;
  const concurrency = process.env.BENCH_CONCURRENCY ?? "16";
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
  // A local OTLP receiver that accepts and counts, for the telemetry-on runs.
  let otlpBytes = 0;
  const otlp = createServer((req, res) => {
    req.on("data", (c: Buffer) => (otlpBytes += c.length));
    req.on("end", () => res.writeHead(200).end()); // an empty body: a valid response in JSON and protobuf alike
  }).listen(0, "127.0.0.1");
  await new Promise((r) => otlp.once("listening", r));
  const otlpUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;
  const rttMs = Number(process.env.BENCH_RTT_MS ?? 4);
  const broker = stack.env().SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!;
  const farBroker = rttMs > 0 ? await delayingProxy(Number(broker.split(":").pop()), rttMs / 2) : undefined;
  const producer = new ServiceBusClient(stack.env().SERVICEBUS_CONNECTION_STRING!);
  const sender = producer.createSender("orders");

  const message = () => ({
    messageId: randomUUID(),
    subject: "orders.fulfil",
    body: { orderId: `slow-${API_MS}-${randomUUID()}` },
    applicationProperties: { sentAt: Date.now() },
  });
  const send = async (count: number) => {
    for (let sent = 0; sent < count;) {
      const batch = await sender.createMessageBatch();
      while (sent < count && batch.tryAddMessage(message())) sent += 1;
      await sender.sendMessages(batch);
    }
  };
  /** `perSecond` messages a second for `seconds`, in 20 ms steps. */
  const sendAtRate = async (perSecond: number, seconds: number) => {
    const start = Date.now();
    let sent = 0;
    while (sent < perSecond * seconds) {
      const due = Math.min(perSecond * seconds, Math.floor(((Date.now() - start) / 1000) * perSecond));
      if (due > sent) {
        await sender.sendMessages(Array.from({ length: due - sent }, message));
        sent = due;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const run = (
    name: Scenario,
    count: number,
    how: {
      preload: boolean;
      /** Messages settled before measuring starts (preloaded with the measured ones). */
      warmup?: number;
      rate?: number;
      extraEnv?: Record<string, string>;
      nodeArgs?: string[];
      far?: boolean;
    },
  ) =>
    new Promise<Result>((resolve, reject) => {
      void (async () => {
        const warmupCount = how.warmup ?? 0;
        // A fixed-rate run drains its warm-up backlog first, at full speed, and is sent its measured messages after.
        await send(how.preload ? warmupCount + count : warmupCount);
        // BENCH_CHILD_ARGS: Node options for the consumers only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
        // A keyless consumer runs as bin/keyless runs it: its Node flags and its compile cache (warm after the first).
        const keyless = name.startsWith("keyless");
        const nodeArgs = [
          ...(keyless ? keylessNodeFlags : []),
          ...(process.env.BENCH_CHILD_ARGS?.split(" ").filter(Boolean) ?? []),
          ...(how.nodeArgs ?? []),
        ];
        const child = spawn(
          process.execPath,
          [...nodeArgs, new URL(import.meta.url).pathname, "child", name],
          {
            env: {
              ...process.env,
              ...stack.env(),
              WORKER_CONCURRENCY: concurrency,
              WORKER_HEALTH_PORT: "off",
              LOG_LEVEL: "warn",
              BENCH_COUNT: String(count),
              BENCH_WARMUP: String(warmupCount),
              ...(keyless ? { NODE_COMPILE_CACHE: compileCache } : {}),
              ...(how.far && farBroker
                ? { SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: `localhost:${farBroker.port}` }
                : {}),
              ...how.extraEnv,
            },
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        let out = "";
        let readyLine = Promise.withResolvers<void>();
        const warmLine = Promise.withResolvers<void>();
        // This process's CPU from the consumer's READY to its exit: what the broker (and, at a fixed rate, the
        // producer) spent per message. Beside the consumer's own, it shows which side a row is bound by.
        let cpuAtReady: NodeJS.CpuUsage | undefined;
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("READY")) {
            cpuAtReady ??= process.cpuUsage();
            readyLine.resolve();
          }
          if (out.includes("WARM")) warmLine.resolve();
        });
        child.on("exit", () => {
          readyLine.resolve();
          warmLine.resolve();
          const line = out.trim().split("\n").pop() ?? "";
          const cpu = process.cpuUsage(cpuAtReady);
          try {
            resolve({
              ...(JSON.parse(line) as Result),
              brokerCpuUsPerMessage: Math.round((cpu.user + cpu.system) / (warmupCount + count)),
            });
          } catch {
            reject(new Error(`${name} printed no result: ${out.slice(-500)}`));
          }
        });
        if (!how.preload) {
          await readyLine.promise;
          if (warmupCount > 0) await warmLine.promise;
          await sendAtRate(how.rate!, count / how.rate!);
        }
        readyLine = Promise.withResolvers<void>();
      })().catch(reject);
    });

  const keylessNodeFlags = readFileSync(new URL("../bin/node-flags", import.meta.url), "utf8")
    .split(/\s+/)
    .filter(Boolean);
  const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), "keyless-node-compile-cache");
  const table: Record<string, Result[]> = {};
  const add = (row: string, r: Result) => (table[row] ??= []).push(r);
  console.log(
    `${quick ? "quick" : "full"}: ${n} messages measured per throughput run after ${warmup} not measured (warm-up), ${rounds} rounds interleaved, concurrency ${concurrency} (keyless: WORKER_CONCURRENCY ${concurrency} + WORKER_READ_AHEAD ${process.env.WORKER_READ_AHEAD ?? 2}), latency at ${rate} msg/s for ${rateSeconds} s, RSS over ${backlog}`,
  );
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl };
  // Head sampling, as a busy deployment would set it: a tenth of the messages' traces recorded (metrics unchanged).
  const sampled = { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" };
  const throughput = { preload: true, warmup };
  const latency = { preload: false, rate, warmup: latencyWarmup, extraEnv: { BENCH_PER_MESSAGE: "1" } };
  /**
   * A fixed-rate run with each message's latency less the API's own time for that message (request in → answer
   * out, from the API's journal, found by the Idempotency-Key both consumers send): what is left is the broker, the
   * consumer and the HTTP between them. The API's own time is reported beside it.
   */
  const latencyRun = async (scenario: Scenario): Promise<Result> => {
    const { perMessage, ...result } = await run(scenario, rate * rateSeconds, latency);
    const apiMs = new Map<string, number>();
    for (const entry of stack.ordersApi.journal())
      if (entry.idempotencyKey)
        apiMs.set(entry.idempotencyKey, (apiMs.get(entry.idempotencyKey) ?? 0) + entry.durationMs);
    const pairs = perMessage as Array<[string, number]>;
    const own = pairs.map(([id]) => apiMs.get(id) ?? NaN);
    const overhead = pairs.map(([, ms], i) => ms - own[i]!);
    if (own.some(Number.isNaN)) throw new Error(`${scenario}: a message the API's journal has no call for`);
    return {
      ...result,
      p50: quantile(overhead, 0.5),
      p99: quantile(overhead, 0.99),
      apiP50: quantile(own, 0.5),
      apiP99: quantile(own, 0.99),
    };
  };
  for (let round = 1; round <= rounds; round += 1) {
    const order: Array<[string, () => Promise<Result>]> = [
      ["no-op  keyless", () => run("keyless-noop", n, throughput)],
      ["no-op  raw subscribe()", () => run("raw-noop", n, throughput)],
      ["no-op  ceiling (receive-and-delete)", () => run("ceiling", n, throughput)],
      ["no-op  keyless + OTLP", () => run("keyless-noop", n, { ...throughput, extraEnv: otel })],
      [
        "no-op  keyless + OTLP, 10 % sampled",
        () => run("keyless-noop", n, { ...throughput, extraEnv: { ...otel, ...sampled } }),
      ],
      ...(farBroker
        ? ([
            [`no-op  keyless @ ${rttMs} ms RTT`, () => run("keyless-noop", n, { ...throughput, far: true })],
            [
              `no-op  raw subscribe() @ ${rttMs} ms RTT`,
              () => run("raw-noop", n, { ...throughput, far: true }),
            ],
          ] as Array<[string, () => Promise<Result>]>)
        : []),
      [`${API_MS}ms API keyless`, () => run("keyless-api", n, throughput)],
      [`${API_MS}ms API raw subscribe()`, () => run("raw-api", n, throughput)],
      [`latency @${rate}/s keyless`, () => latencyRun("keyless-api")],
      [`latency @${rate}/s raw subscribe()`, () => latencyRun("raw-api")],
    ];
    // Alternate the order each round so neither side always runs first (warm caches, another process's load).
    if (round % 2 === 0) order.reverse();
    // BENCH_ONLY: a comma-separated list of row-name parts, to run some rows only (profiling, quick looks); a part
    // ending in $ is a whole row name ("no-op  keyless$" without the OTLP rows).
    const only = process.env.BENCH_ONLY?.split(",");
    const chosen = (row: string) =>
      !only || only.some((o) => (o.endsWith("$") ? row === o.slice(0, -1) : row.includes(o)));
    for (const [row, go] of order) if (chosen(row)) add(row, await go());
    process.stderr.write(`round ${round}/${rounds} done\n`);
  }

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN; // NaN: row not run
  const fmt = (xs: number[]) => `${med(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  const col = (row: string, key: string) => (table[row] ?? []).map((r) => r[key] as number);
  console.log(
    "\nthroughput, msg/s; CPU per message, µs, of the consumer (of which V8's own threads: its compiler, the collector's helpers) and of this process (the broker): medians (min–max)",
  );
  for (const row of Object.keys(table).filter((r) => !r.startsWith("latency")))
    console.log(
      `  ${row.padEnd(38)} ${fmt(col(row, "rate")).padEnd(22)} ${`${fmt(col(row, "cpuUsPerMessage"))} µs`.padEnd(22)} ${`V8 threads ${med(col(row, "v8UsPerMessage"))} µs`.padEnd(20)} broker ${fmt(col(row, "brokerCpuUsPerMessage"))} µs`,
    );
  console.log(
    `\nlatency overhead, ms: enqueue → complete minus the API's own time for that message, after ${latencyWarmup} messages of warm-up; p50 / p99 medians (min–max), and the API's own time (its ${API_MS} ms and the rest)`,
  );
  for (const row of Object.keys(table).filter((r) => r.startsWith("latency")))
    console.log(
      `  ${row.padEnd(38)} p50 ${fmt(col(row, "p50"))}   p99 ${fmt(col(row, "p99"))}   API's own p50 ${med(col(row, "apiP50"))}, p99 ${med(col(row, "apiP99"))}`,
    );
  // Ratios are taken round by round, then their median: this machine's speed drifts more between rounds than between
  // the neighbouring rows of one round. The CPU per message is the steadier figure; the rate depends on the other
  // processes on the machine too.
  const perRound = (a: string, b: string, key: string) => {
    const bs = col(b, key);
    return col(a, key).map((x, i) => x / bs[i]!);
  };
  const r = (a: string, b: string) => med(perRound(a, b, "rate"));
  const cpuRatio = (a: string, b: string) => med(perRound(a, b, "cpuUsPerMessage"));
  const vs = (a: string, b: string) => {
    const xs = perRound(a, b, "rate");
    return `${med(xs).toFixed(2)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}; CPU per message ${cpuRatio(a, b).toFixed(2)}×)`;
  };
  const cost = (a: string, b: string) =>
    `${(100 * (1 - r(a, b))).toFixed(1)} % cost (CPU per message +${(100 * (cpuRatio(a, b) - 1)).toFixed(0)} %)`;
  const readyMs = Object.entries(table)
    .filter(([row]) => row.includes("keyless"))
    .flatMap(([, rs]) => rs.map((x) => x.readyMs as number));
  console.log("\ngoals");
  console.log(
    `  no-op keyless / raw subscribe():  ${vs("no-op  keyless", "no-op  raw subscribe()")} (goal ≥ 1.5)`,
  );
  console.log(
    `  no-op keyless / ceiling:          ${(100 * r("no-op  keyless", "no-op  ceiling (receive-and-delete)")).toFixed(0)} % (goal ≥ 50 %)`,
  );
  if (farBroker)
    console.log(
      `  no-op keyless / raw @ ${rttMs} ms RTT: ${vs(`no-op  keyless @ ${rttMs} ms RTT`, `no-op  raw subscribe() @ ${rttMs} ms RTT`)}`,
    );
  console.log(
    `  ${API_MS} ms API keyless / raw:        ${vs(`${API_MS}ms API keyless`, `${API_MS}ms API raw subscribe()`)} (goal ≥ 1.0)`,
  );
  console.log(
    `  telemetry on vs off:              ${cost("no-op  keyless + OTLP", "no-op  keyless")} (goal < 10 %; ${Math.round(otlpBytes / 1024)} KiB of OTLP received)`,
  );
  console.log(
    `  telemetry on, 10 % sampled:       ${cost("no-op  keyless + OTLP, 10 % sampled", "no-op  keyless")}`,
  );
  console.log(
    `  latency overhead at ${rate} msg/s:    p99 ${fmt(col(`latency @${rate}/s keyless`, "p99"))} ms (goal < 5 ms; raw subscribe() ${med(col(`latency @${rate}/s raw subscribe()`, "p99"))})`,
  );
  console.log(
    `  start → ready:                    ${fmt(readyMs.map(Math.round))} ms from process start (goal < 1.5 s)`,
  );

  if (backlog > 0) {
    // The same drain by hand-written subscribe() too, as a user would run it (Node's own flags): what the SDK alone
    // costs in memory, beside what the worker adds.
    for (const [who, scenario] of [
      ["keyless", "keyless-noop"],
      ["raw subscribe()", "raw-noop"],
    ] as const) {
      const rss = await run(scenario, backlog, { preload: true, extraEnv: { BENCH_RSS: "1" } });
      const samples = rss.rssSamples as number[];
      const warm = samples.slice(Math.min(3, Math.floor(samples.length / 3)));
      const slope = warm.length > 1 ? linearSlope(warm) : 0;
      console.log(
        `\nRSS draining ${backlog} (no-op, ${who}, ${rss.rate} msg/s), MB each second: ${samples.join(" ")}\n  after warm-up: ${Math.min(...warm)}–${Math.max(...warm)} MB, trend ${slope >= 0 ? "+" : ""}${slope.toFixed(2)} MB/s${who === "keyless" ? " (goal: flat and < 150 MB)" : ""}` +
          `\n  JS heap used each second, MB: ${(rss.heapSamples as number[]).join(" ")}; after the drain and a full GC: ${rss.heapAfterMb} MB; external (buffers), MB: ${(rss.externalSamples as number[]).join(" ")}; V8 heap reserved, MB: ${(rss.totalSamples as number[]).join(" ")}`,
      );
    }
  }
  await producer.close();
  farBroker?.close();
  otlp.close();
  await stack.close();
}

/**
 * A TCP proxy on loopback that holds every chunk `oneWayMs` in each direction (in order), so the consumer behind it
 * meets the broker across a round trip of twice that, as a worker meets a namespace across a network.
 */
async function delayingProxy(target: number, oneWayMs: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), oneWayMs));
    from.on("close", () => setTimeout(() => to.destroy(), oneWayMs));
    from.on("error", () => from.destroy());
  };
  const server = createTcpServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    forward(client, upstream);
    forward(upstream, client);
  }).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The q-quantile of `xs` (sorted here), nearest rank. */
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Least-squares slope of evenly spaced samples, per sample. */
function linearSlope(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

async function child(name: Scenario): Promise<void> {
  const count = Number(process.env.BENCH_COUNT);
  const warmup = Number(process.env.BENCH_WARMUP ?? 0);
  let settled = 0;
  // Each measured message: its id and its latency, enqueue → settled, ms.
  const latencies: Array<[string, number]> = [];
  let first = 0;
  const rssSamples: number[] = [];
  const mb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
  const heapSamples: number[] = [];
  const externalSamples: number[] = [];
  const totalSamples: number[] = [];
  const sampler =
    process.env.BENCH_RSS === "1"
      ? setInterval(() => {
          rssSamples.push(mb());
          const m = process.memoryUsage();
          heapSamples.push(Math.round(m.heapUsed / 1024 / 1024));
          totalSamples.push(Math.round(m.heapTotal / 1024 / 1024));
          externalSamples.push(Math.round(m.external / 1024 / 1024));
        }, 1000)
      : undefined;
  const done = Promise.withResolvers<void>();
  const record = (sentAt: unknown, messageId: unknown) => {
    settled += 1;
    if (settled === warmup) process.stdout.write("WARM\n"); // a fixed-rate run's sender waits for this
    if (settled <= warmup) return; // warm-up: not measured
    first ||= Date.now();
    latencies.push([String(messageId), Date.now() - Number(sentAt)]);
    if (latencies.length >= count) done.resolve();
  };
  const { trustExtraCaFromEnvironment } = await import("../src/cli/extra-ca.ts");
  trustExtraCaFromEnvironment();
  const { startTelemetry } = await import("../src/telemetry/start.ts");
  const telemetry = await startTelemetry(process.env);
  const concurrency = Number(process.env.WORKER_CONCURRENCY);
  let stop: () => Promise<void>;
  let readyMs = 0;

  if (name === "keyless-noop" || name === "keyless-api") {
    const { main } = await import("./worker-child.ts");
    const worker = await main(record, name === "keyless-api" ? "api" : "noop");
    readyMs = await worker.ready;
    stop = worker.stop;
  } else {
    const { ManagedIdentityCredential } = await import("@azure/identity");
    const { ServiceBusClient } = await import("@azure/service-bus");
    const credential = new ManagedIdentityCredential({ clientId: process.env.AZURE_CLIENT_ID! });
    const client = new ServiceBusClient(process.env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!, credential);
    const ceiling = name === "ceiling";
    const receiver = client.createReceiver("orders", {
      receiveMode: ceiling ? "receiveAndDelete" : "peekLock",
    });
    const base = process.env.API_ORDERS_BASE_URL!;
    const callApi = async (message: { body: unknown; messageId?: unknown }) => {
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
    };
    const subscription = receiver.subscribe(
      {
        async processMessage(message) {
          if (name === "raw-api") await callApi(message);
          // Completed here (not by autoComplete after we return) so that a completion is measured, as for keyless.
          if (!ceiling) await receiver.completeMessage(message);
          record(message.applicationProperties?.sentAt, message.messageId);
        },
        async processError() {},
      },
      { maxConcurrentCalls: ceiling ? 1000 : concurrency, autoCompleteMessages: false },
    );
    stop = async () => {
      await subscription.close();
      await client.close();
    };
  }
  process.stdout.write("READY\n");
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let v8AtFirst = 0;
  const firstSeen = setInterval(() => {
    if (first && !cpuAtFirst) {
      cpuAtFirst = process.cpuUsage();
      v8AtFirst = v8ThreadsCpuUs();
    }
  }, 1);
  await done.promise;
  const durationMs = Date.now() - first;
  clearInterval(firstSeen);
  // CPU time per message while draining (user + system, this process only): what a message costs the consumer,
  // and less disturbed than the rate by other processes on the machine.
  const cpu = process.cpuUsage(cpuAtFirst);
  const cpuUsPerMessage = Math.round((cpu.user + cpu.system) / count);
  // Of that, V8's own threads: its optimizing compiler (and the collector's helpers). Large while it warms up.
  const v8UsPerMessage = Math.round((v8ThreadsCpuUs() - v8AtFirst) / count);
  // What the drain left behind: the heap after a full collection, against its size at ready. The collector is
  // reached at run time, not with --expose-gc: a flag of its own would give this run a compile cache of its own.
  if (process.env.BENCH_RSS === "1") {
    (await import("node:v8")).setFlagsFromString("--expose-gc");
    ((await import("node:vm")).runInNewContext("gc") as () => void)();
  }
  const heapAfterMb = Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
  await stop();
  await telemetry.shutdown();
  clearInterval(sampler);
  // A fixed-rate run reports each message's latency with its id, so that the API's own time for that message can be
  // taken off (the parent has the API's journal).
  const perMessage = process.env.BENCH_PER_MESSAGE === "1" ? latencies : [];
  console.log(
    JSON.stringify({
      rate: Math.round((count / Math.max(1, durationMs)) * 1000),
      cpuUsPerMessage,
      v8UsPerMessage,
      readyMs: Math.round(readyMs),
      rssSamples,
      heapSamples,
      heapAfterMb,
      externalSamples,
      totalSamples,
      perMessage,
    }),
  );
}

/**
 * CPU time of this process's V8 threads (their names start with "V8"), µs, from /proc in clock ticks of 10 ms;
 * NaN where there is no /proc.
 */
function v8ThreadsCpuUs(): number {
  try {
    let ticks = 0;
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      if (!stat.slice(stat.indexOf("(") + 1).startsWith("V8")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    }
    return ticks * 10_000;
  } catch {
    return NaN;
  }
}
