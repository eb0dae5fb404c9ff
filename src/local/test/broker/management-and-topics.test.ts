import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  credentialFor,
  emulatorConfig,
  entityStats,
  eventually,
  grant,
  queue,
  removeTestCa,
  startTestBroker,
  tokenClient,
} from "./support.ts";

const topic = {
  Name: "order-events",
  Subscriptions: [
    { Name: "audit", Rules: [] },
    {
      Name: "refunds",
      Rules: [
        {
          Name: "refunds-only",
          Properties: { FilterType: "Correlation", CorrelationFilter: { Label: "orders.refund" } },
        },
      ],
    },
    {
      Name: "vip",
      Rules: [
        {
          Name: "vip",
          Properties: { FilterType: "Correlation", CorrelationFilter: { Properties: { tier: "gold" } } },
        },
      ],
    },
  ],
};

describe("$management operations and topics", () => {
  let broker: Broker;
  let client: ServiceBusClient;

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("peek"), queue("sched"), queue("cancel")], [topic]));
    grant("app", ["Send", "Listen"]);
    client = tokenClient(broker, credentialFor("app"));
  });
  after(async () => {
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("peeks nothing on an empty queue (204), then peeks without locking, paging by sequence number", async () => {
    const receiver = client.createReceiver("peek");
    assert.deepEqual(await receiver.peekMessages(5), []);
    await client.createSender("peek").sendMessages([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const first = await receiver.peekMessages(2);
    assert.deepEqual(
      first.map((m) => m.body),
      [1, 2],
    );
    const next = await receiver.peekMessages(2);
    assert.deepEqual(
      next.map((m) => m.body),
      [3],
    );
    assert.equal(entityStats(broker, "peek").active, 3, "peek locks nothing");
    assert.equal(first[0]?.lockToken, undefined);
    await receiver.close();
  });

  it("holds a message sent with a scheduled enqueue time until then, and shows it as scheduled in peek", async () => {
    const sender = client.createSender("sched");
    const at = new Date(Date.now() + 700);
    await sender.sendMessages({ body: "soon", scheduledEnqueueTimeUtc: at });
    const [seq] = await sender.scheduleMessages({ body: "via-management" }, new Date(Date.now() + 700));
    assert.ok(seq !== undefined && Number(seq) > 0);
    assert.equal(entityStats(broker, "sched").scheduled, 2);
    const receiver = client.createReceiver("sched", { receiveMode: "receiveAndDelete" });
    const [peeked] = await receiver.peekMessages(1, { fromSequenceNumber: seq });
    assert.equal(peeked?.state, "scheduled");
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 }), []);
    const got = await receiver.receiveMessages(2, { maxWaitTimeInMs: 3000 });
    const more = got.length < 2 ? await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 }) : [];
    assert.deepEqual([...got, ...more].map((m) => m.body).sort(), ["soon", "via-management"]);
    assert.ok(Date.now() >= at.getTime());
    await receiver.close();
  });

  it("cancels a scheduled message so it is never delivered", async () => {
    const sender = client.createSender("cancel");
    const [seq] = await sender.scheduleMessages({ body: "never" }, new Date(Date.now() + 400));
    await sender.cancelScheduledMessages(seq!);
    assert.equal(entityStats(broker, "cancel").scheduled, 0);
    const receiver = client.createReceiver("cancel");
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 800 }), []);
    await receiver.close();
  });

  it("fans a topic message out to every subscription whose filter matches", async () => {
    const sender = client.createSender("order-events");
    await sender.sendMessages([
      { body: "created", subject: "orders.created" },
      { body: "refund", subject: "orders.refund" },
      { body: "gold", subject: "orders.created", applicationProperties: { tier: "gold" } },
    ]);
    const read = async (sub: string) => {
      const r = client.createReceiver("order-events", sub, { receiveMode: "receiveAndDelete" });
      const bodies: unknown[] = [];
      for (;;) {
        const ms = await r.receiveMessages(10, { maxWaitTimeInMs: 300 });
        if (ms.length === 0) break;
        bodies.push(...ms.map((m) => m.body));
      }
      await r.close();
      return bodies;
    };
    assert.deepEqual(await read("audit"), ["created", "refund", "gold"]);
    assert.deepEqual(await read("refunds"), ["refund"]);
    assert.deepEqual(await read("vip"), ["gold"]);
  });

  it("lists a subscription's rules through the rule manager (needs Manage)", async () => {
    grant("owner", ["Manage"]);
    const owner = tokenClient(broker, credentialFor("owner"));
    const rules = [];
    for await (const r of owner.createRuleManager("order-events", "refunds").listRules()) rules.push(r);
    assert.deepEqual(
      rules.map((r) => [r.name, (r.filter as { subject?: string }).subject]),
      [["refunds-only", "orders.refund"]],
    );
    const defaults = [];
    for await (const r of owner.createRuleManager("order-events", "audit").listRules()) defaults.push(r);
    assert.deepEqual(
      defaults.map((r) => [r.name, (r.filter as { sqlExpression?: string }).sqlExpression]),
      [["$Default", "1=1"]],
    );
    await assert.rejects(async () => {
      for await (const _ of client.createRuleManager("order-events", "audit").listRules()) void _;
    }, /'Manage' claim/);
    await owner.close();
  });

  it("settles a subscription's messages independently of the other subscriptions", async () => {
    await client.createSender("order-events").sendMessages({ body: "r2", subject: "orders.refund" });
    const audit = client.createReceiver("order-events", "audit");
    const [a] = await audit.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await audit.deadLetterMessage(a!, {
      deadLetterReason: "test",
      deadLetterErrorDescription: "settled on its own",
    });
    assert.equal(entityStats(broker, "order-events/subscriptions/audit").deadLettered, 1);
    assert.equal(entityStats(broker, "order-events/subscriptions/refunds").active, 1);
    const dlq = client.createReceiver("order-events", "audit", {
      subQueueType: "deadLetter",
      receiveMode: "receiveAndDelete",
    });
    const [d] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.equal(d?.body, "r2");
    await dlq.close();
    await audit.close();
  });

  it("delivers every message exactly once to one sender and three concurrent receivers, none twice while locked", async () => {
    const total = 300;
    const q = "peek"; // reuse: drain it first
    const drain = client.createReceiver(q, { receiveMode: "receiveAndDelete" });
    while ((await drain.receiveMessages(50, { maxWaitTimeInMs: 200 })).length > 0);
    await drain.close();

    const seen = new Map<string, number>();
    const locked = new Set<string>();
    let duplicateWhileLocked = false;
    const clients = [0, 1, 2].map(() => tokenClient(broker, credentialFor("app")));
    const subs = clients.map((c) =>
      c.createReceiver(q).subscribe(
        {
          async processMessage(m) {
            const id = String(m.body);
            if (locked.has(id)) duplicateWhileLocked = true;
            locked.add(id);
            seen.set(id, (seen.get(id) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, Math.random() * 5));
            locked.delete(id);
          },
          async processError(args) {
            throw args.error;
          },
        },
        { maxConcurrentCalls: 5 },
      ),
    );
    const sender = client.createSender(q);
    for (let i = 0; i < total; i += 50) {
      await sender.sendMessages(Array.from({ length: 50 }, (_, k) => ({ body: `m${i + k}` })));
    }
    await eventually(
      "all delivered and completed",
      () => seen.size === total && entityStats(broker, q).locked === 0 && entityStats(broker, q).active === 0,
      15000,
    );
    for (const s of subs) await s.close();
    for (const c of clients) await c.close();
    assert.equal(duplicateWhileLocked, false);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      "no message delivered twice",
    );
  });
});
