/**
 * Broker benchmark (not a test): `node bench/broker.bench.ts [N]`.
 * Starts the broker in-process, then for each transport (TLS + TokenCredential, the production route; plain TCP +
 * connection string, the baseline) and each concurrency level sends N messages and receives + completes them with
 * the real SDK's subscribe(). Prints messages/s, p50/p99 send→complete latency and RSS. Bounded: each level stops
 * after 60 s whatever happened.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ServiceBusClient } from "@azure/service-bus";
import { SignJWT, generateKeyPair, jwtVerify } from "jose";

import { EMULATOR_DEFAULT_SAS_KEY, startBroker } from "../src/local/broker/index.ts";
import { ensureDevCa, trustDevCaInProcess } from "../src/local/dev-ca.ts";

const N = Number(process.argv[2] ?? 5000);
const LEVELS = [1, 10, 50];
const LEVEL_TIMEOUT_MS = 60_000;
const AUDIENCE = "https://servicebus.azure.net/";

const keys = await generateKeyPair("RS256");
const caDir = await mkdtemp(join(tmpdir(), "keyless-bench-ca-"));
const ca = await ensureDevCa(caDir);
trustDevCaInProcess(ca.caCertPem);

const broker = await startBroker({
  config: {
    UserConfig: {
      Namespaces: [
        {
          Name: "sbemulatorns",
          Queues: [{ Name: "bench", Properties: { LockDuration: "PT1M", MaxDeliveryCount: 10 } }],
          Topics: [],
        },
      ],
      Logging: { Type: "Console" },
    },
  },
  tls: await ca.serverCert(),
  tlsPort: 0,
  plainPort: 0,
  httpPort: false,
  auth: {
    async verifyJwt(token) {
      const { payload } = await jwtVerify(token, keys.publicKey, { audience: AUDIENCE });
      return { principalId: String(payload.oid), expiresAtMs: Number(payload.exp) * 1000 };
    },
    rightsOf: () => new Set(["Send", "Listen"] as const),
    sasKeys: [EMULATOR_DEFAULT_SAS_KEY],
  },
});

const credential = {
  async getToken() {
    const token = await new SignJWT({ oid: "bench" })
      .setProtectedHeader({ alg: "RS256" })
      .setAudience(AUDIENCE)
      .setExpirationTime("1h")
      .sign(keys.privateKey);
    return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

const routes = {
  "TLS + TokenCredential": () => new ServiceBusClient(`localhost:${broker.tlsPort}`, credential),
  "TCP + connection string (baseline)": () =>
    new ServiceBusClient(
      `Endpoint=sb://localhost:${broker.plainPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;`,
    ),
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function run(makeClient: () => ServiceBusClient, concurrency: number) {
  const client = makeClient();
  const sender = client.createSender("bench");
  const receiver = client.createReceiver("bench");
  const latencies: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const start = performance.now();
  const sub = receiver.subscribe(
    {
      async processMessage(m) {
        // Auto-complete is sent right after this handler returns; the next turn is as close to "completed" as the SDK lets us observe.
        const sentAt = Number(m.applicationProperties?.sentAt);
        setImmediate(() => {
          latencies.push(performance.now() - sentAt);
          if (latencies.length === N) done();
        });
      },
      async processError(args) {
        console.error("  receive error:", args.error.message);
      },
    },
    { maxConcurrentCalls: concurrency },
  );
  const BATCH = 100;
  for (let i = 0; i < N; i += BATCH) {
    const sentAt = performance.now();
    await sender.sendMessages(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
        body: { i: i + k },
        applicationProperties: { sentAt },
      })),
    );
  }
  const timeout = setTimeout(done, LEVEL_TIMEOUT_MS);
  await finished;
  clearTimeout(timeout);
  const seconds = (performance.now() - start) / 1000;
  await sub.close();
  await client.close();
  latencies.sort((a, b) => a - b);
  return {
    completed: latencies.length,
    rate: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

console.log(
  `broker benchmark: N=${N} messages per level, send in batches of 100, subscribe() + auto-complete, Node ${process.version}`,
);
console.log("route                                 conc   done    msg/s   p50 ms   p99 ms   RSS MB");
try {
  for (const [name, make] of Object.entries(routes)) {
    for (const c of LEVELS) {
      const r = await run(make, c);
      const rss = process.memoryUsage().rss / 1024 / 1024;
      console.log(
        `${name.padEnd(37)} ${String(c).padStart(4)} ${String(r.completed).padStart(6)} ${r.rate.toFixed(0).padStart(8)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${rss.toFixed(0).padStart(8)}`,
      );
    }
  }
} finally {
  await broker.close();
  await rm(caDir, { recursive: true, force: true });
}
