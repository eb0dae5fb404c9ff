import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Custody } from "../../src/worker/custody.ts";

const never = new AbortController().signal;

/** Resolves with the reservation if it was granted without waiting, else "waits". */
async function tryReserve(custody: Custody, entity: string) {
  const stop = new AbortController();
  const pending = custody.reserve(entity, stop.signal);
  const result = await Promise.race([pending, new Promise<"waits">((r) => setImmediate(() => r("waits")))]);
  if (result === "waits") {
    stop.abort(new Error("test gave up"));
    await pending.catch(() => undefined);
  }
  return result;
}

describe("the custody of locked messages", () => {
  it("splits the budget into even shares, the remainder to the first entities", () => {
    const custody = new Custody(10, ["a", "b", "c"]);
    const shares = Object.values(custody.snapshot().entities).map((e) => e.share);
    assert.deepEqual(shares, [4, 3, 3]);
  });

  it("refuses a budget smaller than the number of entities", () => {
    assert.throws(() => new Custody(1, ["a", "b"]), /cannot give each of 2 entities one message/);
  });

  it("reserves credit when it is granted, so a second receive gets nothing while the first holds the share", async () => {
    const custody = new Custody(4, ["a", "b"]);
    const first = await custody.reserve("a", never);
    assert.equal(first.credit, 2);
    assert.equal(await tryReserve(custody, "a"), "waits", "a's share is reserved by its pending receive");
    assert.equal(custody.snapshot().reserved, 2);
    const records = first.admit(1);
    assert.equal(records.length, 1);
    assert.equal(custody.held, 1);
    assert.equal(custody.snapshot().reserved, 0, "the unused credit came back");
  });

  it("never holds more than its budget across entities, whatever the entities ask", async () => {
    const custody = new Custody(6, ["a", "b", "c"]);
    const held = [];
    for (const entity of ["a", "b", "c", "a", "b", "c"]) {
      const r = await tryReserve(custody, entity);
      if (r !== "waits") held.push(...r.admit(r.credit));
      const s = custody.snapshot();
      assert.ok(s.held + s.reserved <= 6, JSON.stringify(s));
    }
    assert.equal(custody.held, 6);
    for (const path of ["a", "b", "c"]) assert.equal(custody.snapshot().entities[path]?.held, 2);
  });

  it("lends an idle entity's share to a busy one, keeping a probe credit for the idle one", async () => {
    const custody = new Custody(10, ["busy", "empty"]);
    (await custody.reserve("empty", never)).admit(0); // it came back empty
    const probe = await custody.reserve("empty", never);
    assert.equal(probe.credit, 1, "an empty entity keeps one credit out to see new messages");
    const busy = await custody.reserve("busy", never);
    assert.equal(busy.credit, 9, "the busy entity may use all but the probe");
    busy.admit(9);
    probe.admit(0);
  });

  it("gives an entity its whole share back once it has messages again, before the borrower gets more", async () => {
    const custody = new Custody(10, ["busy", "late"]);
    (await custody.reserve("late", never)).admit(0);
    const probe = await custody.reserve("late", never);
    const borrowed = (await custody.reserve("busy", never)).admit(9);
    probe.admit(1); // the late entity has messages now: entitled to its share of 5 again
    assert.equal(custody.limitOf("busy"), 5);
    for (const record of borrowed.slice(0, 4)) record.release();
    assert.equal(await tryReserve(custody, "busy"), "waits", "the borrower is still above its share");
    const late = await custody.reserve("late", never);
    assert.equal(late.credit, 4, "the freed slots go to the entity below its share");
  });

  it("counts each record's state and frees its slot once, however often it is released", async () => {
    const custody = new Custody(2, ["a"]);
    const [record] = (await custody.reserve("a", never)).admit(1);
    record!.state = "running";
    assert.equal(custody.snapshot().entities.a?.states.running, 1);
    record!.state = "settling";
    record!.release();
    record!.release();
    assert.equal(custody.held, 0);
    assert.deepEqual(custody.snapshot().entities.a?.states, { waiting: 0, running: 0, settling: 0 });
  });

  it("wakes a waiting receive when a message is settled, and rejects it when stopping", async () => {
    const custody = new Custody(1, ["a"]);
    const [record] = (await custody.reserve("a", never)).admit(1);
    const waiting = custody.reserve("a", never);
    record!.release();
    assert.equal((await waiting).credit, 1);
    const stop = new AbortController();
    const blocked = custody.reserve("a", stop.signal);
    stop.abort(new Error("stopping"));
    await assert.rejects(blocked, /stopping/);
  });
});
