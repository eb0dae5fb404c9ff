import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import {
  BrokerConfigError,
  SAMPLE_CONFIG_PATH,
  loadEmulatorConfig,
  startBroker,
  validateEmulatorConfig,
} from "../../broker/index.ts";
import { ensureDevCa } from "../../dev-ca.ts";
import {
  connectionStringClient,
  emulatorConfig,
  queue,
  removeTestCa,
  startTestBroker,
  testAuth,
} from "./support.ts";

const problemsOf = (config: unknown, options = {}) => {
  try {
    validateEmulatorConfig(config, options);
  } catch (e) {
    assert.ok(e instanceof BrokerConfigError);
    return e.problems;
  }
  return [];
};

describe("Config.json loading", () => {
  it("loads the sample topology in the official emulator's schema", async () => {
    const topology = validateEmulatorConfig(await loadEmulatorConfig(SAMPLE_CONFIG_PATH));
    assert.equal(topology.namespace, "sbemulatorns");
    assert.deepEqual(
      topology.queues.map((q) => [
        q.name,
        q.maxDeliveryCount,
        q.lockDurationMs,
        q.deadLetterOnExpiration,
        q.requiresSession,
      ]),
      [
        ["orders", 5, 30_000, true, false],
        ["orders-by-order", 5, 30_000, true, true],
        ["orders-bench", 10, 60_000, false, false],
      ],
    );
    const refunds = topology.topics[0]?.subscriptions.find((s) => s.name === "refunds");
    assert.deepEqual(refunds?.rules[0]?.filter, {
      type: "correlation",
      fields: { Label: "orders.refund" },
      properties: {},
    });
  });

  it("refuses SQL filters, rule actions, unknown fields and bad durations, naming each JSON path", () => {
    const problems = problemsOf(
      emulatorConfig(
        [
          { Name: "s", Properties: { RequiresSession: true } },
          { Name: "d", Properties: { LockDuration: "PT1S" } },
          { Name: "e", Properties: { LockDuration: "soon" } },
        ],
        [
          {
            Name: "t",
            Subscriptions: [
              {
                Name: "x",
                Rules: [
                  {
                    Name: "r",
                    Properties: {
                      FilterType: "Sql",
                      SqlFilter: { SqlExpression: "amount > 5" },
                      Action: { SqlExpression: "SET a=1" },
                    },
                  },
                ],
              },
            ],
          },
        ],
      ),
    );
    const text = problems.join("\n");
    assert.doesNotMatch(text, /RequiresSession/, "sessions are supported");
    assert.match(text, /Queues\.1\.Properties\.LockDuration: PT1S is outside the emulator's range/);
    assert.match(text, /Queues\.2\.Properties\.LockDuration: "soon" is not an ISO-8601 duration/);
    assert.match(text, /Rules\.0\.Properties\.SqlFilter: SQL filters are not supported/);
    assert.match(text, /Rules\.0\.Properties\.Action: SQL rule actions are not supported/);
  });

  it("refuses fields outside the schema (schema problems are reported before semantic ones)", () => {
    const problems = problemsOf(
      emulatorConfig([{ Name: "d", Properties: { Color: "blue" } }, { Properties: {} }]),
    );
    assert.match(
      problems.join("\n"),
      /Queues\.0\.Properties: "Color" is not part of the emulator's Config\.json schema/,
    );
    assert.match(problems.join("\n"), /Queues\.1\.Name: /);
  });

  it("keeps the emulator's minimum durations unless short durations are allowed", () => {
    const config = emulatorConfig([{ Name: "q", Properties: { LockDuration: "PT1S" } }]);
    assert.match(problemsOf(config).join("\n"), /LockDuration: PT1S is outside the emulator's range/);
    assert.deepEqual(problemsOf(config, { allowShortDurations: true }), []);
  });

  it("refuses forwarding to an entity that does not exist", () => {
    const problems = problemsOf(emulatorConfig([{ Name: "q", Properties: { ForwardTo: "ghost" } }]));
    assert.match(problems.join("\n"), /ForwardTo: forwarding target "ghost" is not a queue or topic/);
  });

  it("fails startBroker with BrokerConfigError before opening any port", async () => {
    await assert.rejects(
      startBroker({ config: { nope: true }, auth: testAuth, tlsPort: false, plainPort: 0, httpPort: false }),
      BrokerConfigError,
    );
  });
});

describe("inspection endpoint", () => {
  after(removeTestCa);

  it("serves per-entity counts as JSON, for all entities and for one", async () => {
    const broker = await startTestBroker(
      emulatorConfig([queue("orders")], [{ Name: "ev", Subscriptions: [{ Name: "audit" }] }]),
    );
    const client = connectionStringClient(broker);
    try {
      await client.createSender("orders").sendMessages([{ body: 1 }, { body: 2 }]);
      const receiver = client.createReceiver("orders");
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      await receiver.deadLetterMessage(m!);
      const all = (await (await fetch(`http://127.0.0.1:${broker.httpPort}/`)).json()) as {
        namespace: string;
        entities: unknown[];
      };
      assert.equal(all.namespace, "sbemulatorns");
      assert.deepEqual(
        all.entities.map((e) => (e as { name: string; kind: string }).name),
        ["orders", "ev", "ev/subscriptions/audit"],
      );
      const one = await (await fetch(`http://127.0.0.1:${broker.httpPort}/entities/orders`)).json();
      assert.deepEqual(
        { ...(one as object), sizeBytes: 0 },
        {
          name: "orders",
          kind: "queue",
          active: 1,
          locked: 0,
          mostLocked: 1, // the one received and dead-lettered
          scheduled: 0,
          deferred: 0,
          deadLettered: 1,
          sizeBytes: 0,
        },
      );
      assert.deepEqual(one, broker.stats().entities[0]);
      assert.equal((await fetch(`http://127.0.0.1:${broker.httpPort}/entities/nope`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${broker.httpPort}/`, { method: "POST" })).status, 405);
      await receiver.close();
    } finally {
      await client.close();
      await broker.close();
      await broker.close(); // idempotent
    }
  });
});

describe("dev CA", () => {
  it("creates the CA once, keeps the private key 0600, and reuses the CA and server certificate on later runs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "keyless-ca-"));
    try {
      const first = await ensureDevCa(dir);
      const leaf1 = await first.serverCert(["localhost", "127.0.0.1", "::1"]);
      const second = await ensureDevCa(dir);
      const leaf2 = await second.serverCert(["localhost", "127.0.0.1", "::1"]);
      assert.equal(second.caCertPem, first.caCertPem);
      assert.equal(leaf2.key, leaf1.key, "server certificate reused");
      assert.equal((await stat(join(dir, "ca.key"))).mode & 0o777, 0o600);
      assert.equal(await readFile(first.caCertPath, "utf8"), first.caCertPem);
      const other = await second.serverCert(["localhost", "broker.local"]);
      assert.notEqual(other.key, leaf1.key, "a different host list gets a new certificate");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
