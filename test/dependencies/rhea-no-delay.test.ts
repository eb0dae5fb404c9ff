/**
 * The third change this repository carries for rhea (patches/rhea+3.0.5.patch, docs/upstream.md): every client
 * socket gets TCP_NODELAY when it is set up, whichever way its links are attached later. Unpatched, only
 * `connection.attach_receiver` turned it on; a receiver attached through a session — as rhea-promise, under the
 * Azure SDK, attaches every link — left Nagle's algorithm on, and a settlement written while an earlier frame was
 * unacknowledged waited for the peer's ACK. Checked for every copy of rhea the install holds, over loopback.
 */
import assert from "node:assert/strict";
import { type AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";

import type * as Rhea from "rhea";
import { loadRhea, rheaCopies } from "./rhea-copies.ts";

const copies = rheaCopies("connection.js");

// Every setNoDelay call, by the socket it was made on (rhea makes it before the socket is connected).
const calls = new WeakMap<Socket, boolean[]>();
const setNoDelay = Socket.prototype.setNoDelay;
before(() => {
  Socket.prototype.setNoDelay = function (this: Socket, noDelay?: boolean) {
    calls.set(this, [...(calls.get(this) ?? []), noDelay ?? true]);
    return setNoDelay.call(this, noDelay);
  };
});
after(() => {
  Socket.prototype.setNoDelay = setNoDelay;
});

/** Connects, attaches a receiver through a session (as rhea-promise does); the client socket's setNoDelay calls. */
async function noDelayCallsOfSessionReceiver(
  rhea: typeof Rhea,
  options: { tcp_no_delay?: boolean } = {},
): Promise<boolean[]> {
  const server = rhea.create_container();
  server.on("sender_open", (ctx) => ctx.sender!.open());
  const listener = server.listen({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => listener.once("listening", resolve));
  const connection = rhea.create_container().connect({
    port: (listener.address() as AddressInfo).port,
    host: "127.0.0.1",
    reconnect: false,
    ...options,
  });
  await new Promise((resolve) => connection.once("connection_open", resolve));
  const session = connection.create_session();
  session.begin();
  const receiver = session.attach_receiver({ source: "orders" });
  await new Promise((resolve) => receiver.once("receiver_open", resolve));
  const socket = (connection as unknown as { socket: Socket }).socket;
  const made = calls.get(socket) ?? [];
  connection.close();
  listener.close();
  return made;
}

describe("rhea's client sockets (patched)", () => {
  it("finds the rhea copies to check", () => {
    assert.ok(copies.length > 0, "at least one rhea under node_modules");
  });

  for (const copy of copies) {
    it(`${copy}: turns Nagle's algorithm off on a client socket whose receiver is attached through a session`, async () => {
      // Unpatched: no call at all.
      assert.deepEqual(await noDelayCallsOfSessionReceiver(loadRhea(copy)), [true]);
    });

    it(`${copy}: keeps Nagle's algorithm for a connection that asks for it with tcp_no_delay: false`, async () => {
      assert.deepEqual(await noDelayCallsOfSessionReceiver(loadRhea(copy), { tcp_no_delay: false }), []);
    });
  }
});
