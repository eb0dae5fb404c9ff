/**
 * The second change this repository carries for rhea (patches/rhea+3.0.5.patch, docs/upstream.md): the frames one
 * tick produces leave in one socket write, not one write each. Checked for every copy of rhea the install holds, with
 * a plain rhea server and client over loopback, counting the client socket's writes while it sends a burst.
 */
import assert from "node:assert/strict";
import type { AddressInfo, Socket } from "node:net";
import { describe, it } from "node:test";

import type * as Rhea from "rhea";
import { loadRhea, rheaCopies } from "./rhea-copies.ts";

const copies = rheaCopies("transport.js");

/** Sends `count` messages in one synchronous loop; resolves with the socket writes that carried them. */
async function writesForBurst(
  rhea: typeof Rhea,
  count: number,
): Promise<{ writes: number; received: number }> {
  const server = rhea.create_container();
  let received = 0;
  const allReceived = new Promise<void>((resolve) =>
    server.on("message", () => ++received === count && resolve()),
  );
  server.on("receiver_open", (ctx) => ctx.receiver!.add_credit(count));
  const listener = server.listen({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => listener.once("listening", resolve));
  const client = rhea.create_container();
  const connection = client.connect({ port: (listener.address() as AddressInfo).port, host: "127.0.0.1" });
  const sender = connection.open_sender("burst");
  await new Promise((resolve) => sender.once("sendable", resolve));
  // Give the link's own frames (attach, flow) their ticks, so that only the burst is counted.
  await new Promise((resolve) => setImmediate(resolve));
  const socket = (connection as unknown as { socket: Socket & Record<string, unknown> }).socket;
  let writes = 0;
  for (const method of ["_write", "_writev"] as const) {
    const original = socket[method] as (...args: unknown[]) => void;
    socket[method] = (...args: unknown[]) => {
      writes += 1;
      original.apply(socket, args);
    };
  }
  for (let i = 0; i < count; i += 1) sender.send({ body: i });
  await allReceived;
  const counted = writes;
  connection.close();
  listener.close();
  return { writes: counted, received };
}

describe("rhea's socket writes (patched)", () => {
  it("finds the rhea copies to check", () => {
    assert.ok(copies.length > 0, "at least one rhea under node_modules");
  });

  for (const copy of copies) {
    it(`${copy}: sends the frames of one tick in one socket write`, async () => {
      const { writes, received } = await writesForBurst(loadRhea(copy), 50);
      assert.equal(received, 50);
      // Unpatched, each of the 50 transfers is its own write.
      assert.ok(writes <= 2, `50 transfers in one tick took ${writes} socket writes`);
    });
  }
});
