/**
 * The production topology (deploy/topology.json) against what Azure gets from the Bicep and against the local
 * sample Config.json `keyless stack` runs: every entity both have behaves the same in both places.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { validateEmulatorConfig } from "../../src/local/broker/config.ts";
import { parseIsoDurationMs } from "../../src/local/broker/durations.ts";
import {
  type Entities,
  type Entity,
  localTopology,
  productionTopology,
  snapshotResources,
  workerEnvironment,
} from "./support.ts";

/** The properties deploy/modules/servicebus*.bicep deploys; the production file states each of them. */
const QUEUE_PROPERTIES = [
  "DeadLetteringOnMessageExpiration",
  "DefaultMessageTimeToLive",
  "DuplicateDetectionHistoryTimeWindow",
  "ForwardDeadLetteredMessagesTo",
  "ForwardTo",
  "LockDuration",
  "MaxDeliveryCount",
  "RequiresDuplicateDetection",
  "RequiresSession",
];
const TOPIC_PROPERTIES = [
  "DefaultMessageTimeToLive",
  "DuplicateDetectionHistoryTimeWindow",
  "RequiresDuplicateDetection",
];
const SUBSCRIPTION_PROPERTIES = QUEUE_PROPERTIES.filter((p) => !p.includes("DuplicateDetection"));

/** Entities only the local sample has, each with the reason it stays out of Azure. */
const LOCAL_ONLY: Record<string, string> = {
  "orders-bench": "a queue for local load experiments; production has no use for it",
  "orders-by-order":
    "the session queue of the ordered-processing demo (issue 12); production gets it with the worker's session support",
};

/** The emulator's (and so the local broker's) longest DefaultMessageTimeToLive: src/local/broker/config.ts LIMITS. */
const LOCAL_MAX_TTL_MS = 3_600_000;

/** Every queue, topic and subscription by path ("orders", "order-events", "order-events/audit"). */
function entitiesByPath(topology: Entities): Map<string, Entity & { Rules?: Entity[] }> {
  const all = new Map<string, Entity & { Rules?: Entity[] }>();
  for (const q of topology.Queues) all.set(q.Name, q);
  for (const t of topology.Topics) {
    all.set(t.Name, t);
    for (const s of t.Subscriptions) all.set(`${t.Name}/${s.Name}`, s);
  }
  return all;
}

const lowerFirst = (key: string) => key[0]!.toLowerCase() + key.slice(1);
/** Config.json's property as Azure's (Config.json writes "" for "no forwarding"; Azure gets none). */
const asArm = (value: unknown) => (value === "" ? null : value);

describe("the production topology", () => {
  const production = productionTopology();
  const resources = snapshotResources("deploy/main.snapshot.json");
  /** Deployed Service Bus resources of one type by path below the namespace. */
  const deployed = (type: string) =>
    new Map(
      resources
        .filter((r) => r.type === `Microsoft.ServiceBus/namespaces/${type}`)
        .map((r) => [r.name.split("/").slice(1).join("/"), r.properties]),
    );

  it("states every property of each queue, topic and subscription, so nothing falls back to a default", () => {
    const keys = (e: Entity) => Object.keys(e.Properties).sort();
    for (const q of production.Queues) assert.deepEqual(keys(q), QUEUE_PROPERTIES, q.Name);
    for (const t of production.Topics) {
      assert.deepEqual(keys(t), TOPIC_PROPERTIES, t.Name);
      for (const s of t.Subscriptions)
        assert.deepEqual(keys(s), SUBSCRIPTION_PROPERTIES, `${t.Name}/${s.Name}`);
    }
  });

  it("is what the Bicep deploys: each queue, topic and subscription with every property as written", () => {
    const expect = (type: string, entities: Array<[string, Entity]>, properties: string[]) => {
      const actual = deployed(type);
      assert.deepEqual([...actual.keys()].sort(), entities.map(([path]) => path).sort(), type);
      for (const [path, entity] of entities) {
        for (const p of properties) {
          assert.deepEqual(actual.get(path)![lowerFirst(p)], asArm(entity.Properties[p]), `${path}: ${p}`);
        }
      }
    };
    expect(
      "queues",
      production.Queues.map((q) => [q.Name, q]),
      QUEUE_PROPERTIES,
    );
    expect(
      "topics",
      production.Topics.map((t) => [t.Name, t]),
      TOPIC_PROPERTIES,
    );
    expect(
      "topics/subscriptions",
      production.Topics.flatMap((t) =>
        t.Subscriptions.map((s): [string, Entity] => [`${t.Name}/${s.Name}`, s]),
      ),
      SUBSCRIPTION_PROPERTIES,
    );
    assert.ok(deployed("topics").has("order-events"), "the sample's topic is deployed too");
  });

  it("gives each subscription exactly its rules: Azure's catch-all $Default is closed where a subscription has rules", () => {
    const rules = deployed("topics/subscriptions/rules");
    const expected = new Map<string, unknown>();
    for (const t of production.Topics) {
      for (const s of t.Subscriptions) {
        for (const r of s.Rules) {
          const p = r.Properties as { FilterType: string; CorrelationFilter?: Record<string, unknown> };
          assert.equal(p.FilterType, "Correlation", "only correlation filters are mapped in this test");
          expected.set(`${t.Name}/${s.Name}/${r.Name}`, {
            filterType: "CorrelationFilter",
            correlationFilter: Object.fromEntries(
              Object.entries(p.CorrelationFilter!).map(([k, v]) => [lowerFirst(k), v]),
            ),
          });
        }
        if (s.Rules.length > 0 && !s.Rules.some((r) => r.Name === "$Default")) {
          expected.set(`${t.Name}/${s.Name}/$Default`, {
            filterType: "SqlFilter",
            sqlFilter: { sqlExpression: "1=0" },
          });
        }
      }
    }
    assert.deepEqual(Object.fromEntries(rules), Object.fromEntries(expected));
    assert.ok(rules.has("order-events/refunds/refunds-only"));
  });

  it("tells the worker its queue's MaxDeliveryCount (WORKER_MAX_DELIVERIES)", () => {
    const env = workerEnvironment("deploy/main.snapshot.json");
    const queue = production.Queues.find((q) => q.Name === env.SERVICEBUS_ENTITIES);
    assert.ok(queue, "the worker's queue is in the production topology");
    assert.equal(env.WORKER_MAX_DELIVERIES, String(queue.Properties.MaxDeliveryCount));
  });
});

describe("the production topology and the local sample Config.json", () => {
  const production = entitiesByPath(productionTopology());
  const local = entitiesByPath(localTopology());

  it("have the same entities, except the local-only ones named with a reason", () => {
    for (const path of production.keys()) assert.ok(local.has(path), `${path} is missing locally`);
    const localOnly = [...local.keys()].filter((path) => !production.has(path));
    assert.deepEqual(localOnly.sort(), Object.keys(LOCAL_ONLY).sort());
    for (const path of ["orders", "order-events", "order-events/audit", "order-events/refunds"])
      assert.ok(production.has(path), path);
  });

  it("agree on every property and rule of every entity both have; locally a TTL is capped at the emulator's hour", () => {
    for (const [path, azure] of production) {
      const here = local.get(path)!;
      for (const [property, value] of Object.entries(azure.Properties)) {
        const localValue = here.Properties[property];
        if (property === "DefaultMessageTimeToLive") {
          const ms = parseIsoDurationMs(value as string)!;
          assert.equal(
            parseIsoDurationMs(localValue as string),
            Math.min(ms, LOCAL_MAX_TTL_MS),
            `${path}: TTL`,
          );
        } else if (property.endsWith("Duration") || property.endsWith("TimeWindow")) {
          assert.equal(
            parseIsoDurationMs(localValue as string),
            parseIsoDurationMs(value as string),
            `${path}: ${property}`,
          );
        } else {
          assert.deepEqual(localValue, value, `${path}: ${property}`);
        }
      }
      assert.deepEqual(here.Rules, azure.Rules, `${path}: rules`);
    }
  });

  it("could run locally as it is: the production topology with TTLs capped is a valid local Config.json", () => {
    const cap = (e: Entity) => ({
      ...e,
      Properties: {
        ...e.Properties,
        DefaultMessageTimeToLive: `PT${Math.min(parseIsoDurationMs(e.Properties.DefaultMessageTimeToLive as string)!, LOCAL_MAX_TTL_MS) / 1000}S`,
      },
    });
    const { Queues, Topics } = productionTopology();
    const topology = validateEmulatorConfig({
      UserConfig: {
        Namespaces: [
          {
            Name: "production",
            Queues: Queues.map(cap),
            Topics: Topics.map((t) => ({ ...cap(t), Subscriptions: t.Subscriptions.map(cap) })),
          },
        ],
        Logging: { Type: "Console" },
      },
    });
    assert.deepEqual(
      topology.queues.map((q) => q.name),
      Queues.map((q) => q.Name),
    );
  });
});
