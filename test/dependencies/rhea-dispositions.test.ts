/**
 * The fix this repository carries for rhea (patches/rhea+3.0.5.patch, docs/upstream.md): deliveries settled in the
 * same tick go out as dispositions that give each delivery its own outcome. Checked for every copy of rhea the
 * install holds (the SDK's and the broker's are one today; a nested copy would need its own patch and fails here
 * until it has one), with a plain rhea server and client over loopback and the server recording the frames.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";

import type * as Rhea from "rhea";
import type { Delivery } from "rhea";

import { type RecordedFrame, recordIncomingFrames } from "../../src/local/test/support/amqp-frames.ts";
import { loadRhea, rheaCopies } from "./rhea-copies.ts";

const copies = rheaCopies("session.js");

interface Disposition {
  first: number;
  last: number;
  outcome: string;
  description?: string;
}

interface Outcome {
  constructor: { composite_type: string };
  error?: { description?: string };
}

/**
 * A rhea server sends `count` unsettled messages; a rhea client receives them all and calls `settle` once, in one
 * synchronous call. Resolves with the disposition frames the server read, once every delivery is settled.
 */
async function dispositionsFor(
  rhea: typeof Rhea,
  count: number,
  settle: (deliveries: Delivery[]) => void,
): Promise<Disposition[]> {
  const unwrap = (rhea.message as unknown as { unwrap_outcome(state: unknown): Outcome }).unwrap_outcome;
  const server = rhea.create_container();
  let frames: RecordedFrame[] = [];
  server.on("connection_open", (ctx) => {
    frames = recordIncomingFrames(ctx.connection, ["disposition"]);
  });
  let settled = 0;
  const allSettled = new Promise<void>((resolve) =>
    server.on("settled", () => ++settled === count && resolve()),
  );
  let sent = 0;
  server.on("sendable", (ctx) => {
    while (sent < count && ctx.sender!.sendable()) ctx.sender!.send({ body: sent++ });
  });
  const listener = server.listen({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => listener.once("listening", resolve));

  const client = rhea.create_container();
  const connection = client.connect({
    port: (listener.address() as AddressInfo).port,
    host: "127.0.0.1",
    reconnect: false,
  });
  const deliveries: Delivery[] = [];
  connection
    .open_receiver({ source: { address: "q" }, autoaccept: false, credit_window: count })
    .on("message", (ctx) => {
      deliveries.push(ctx.delivery!);
      if (deliveries.length === count) settle(deliveries);
    });
  await allSettled;
  connection.close();
  listener.close();

  return frames.map(({ fields }) => {
    const outcome = unwrap(fields.state);
    const first = Number(fields.first);
    return {
      first,
      last: fields.last === undefined || fields.last === null ? first : Number(fields.last),
      outcome: outcome.constructor.composite_type,
      ...(outcome.error?.description ? { description: outcome.error.description } : {}),
    };
  });
}

const rejectedBecause = (description: string) => ({ condition: "app:failed", description });

describe("rhea's dispositions for deliveries settled in one tick", () => {
  it("finds at least one copy of rhea under node_modules", () => {
    assert.ok(copies.length >= 1, "rhea is installed");
  });

  for (const copy of copies) {
    describe(copy, () => {
      const rhea = loadRhea(copy);

      it("sends an accept and a reject of consecutive deliveries as two dispositions, each with its own outcome", async () => {
        const frames = await dispositionsFor(rhea, 2, ([a, b]) => {
          a!.accept();
          b!.reject(rejectedBecause("bad"));
        });
        assert.deepEqual(frames, [
          { first: 0, last: 0, outcome: "accepted" },
          { first: 1, last: 1, outcome: "rejected", description: "bad" },
        ]);
      });

      it("sends a release and an accept of consecutive deliveries as two dispositions", async () => {
        const frames = await dispositionsFor(rhea, 2, ([a, b]) => {
          a!.release({ undeliverable_here: false });
          b!.accept();
        });
        assert.deepEqual(frames, [
          { first: 0, last: 0, outcome: "modified" },
          { first: 1, last: 1, outcome: "accepted" },
        ]);
      });

      it("gives two consecutive rejections their own error descriptions", async () => {
        const frames = await dispositionsFor(rhea, 2, ([a, b]) => {
          a!.reject(rejectedBecause("first reason"));
          b!.reject(rejectedBecause("second reason"));
        });
        assert.deepEqual(frames, [
          { first: 0, last: 0, outcome: "rejected", description: "first reason" },
          { first: 1, last: 1, outcome: "rejected", description: "second reason" },
        ]);
      });

      it("still sends one disposition for a rejected delivery settled alone (no duplicate, amqp/rhea#157)", async () => {
        const frames = await dispositionsFor(rhea, 1, ([a]) => a!.reject(rejectedBecause("alone")));
        assert.deepEqual(frames, [{ first: 0, last: 0, outcome: "rejected", description: "alone" }]);
      });

      it("still batches consecutive accepts into one disposition range", async () => {
        const frames = await dispositionsFor(rhea, 3, (all) => all.forEach((d) => d.accept()));
        assert.deepEqual(frames, [{ first: 0, last: 2, outcome: "accepted" }]);
      });
    });
  }
});
