import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";

import { settle } from "../../src/worker/settle.ts";
import { memoryLogger } from "../support/stack.ts";

const never = () => new Promise<void>(() => undefined);

/** A receiver shaped like @azure/service-bus 7.9.5's, with the link and management behaviour a test chooses. */
function fakeReceiver(o: {
  onLink: () => Promise<void>;
  onManagement: () => Promise<void>;
  linkOpen?: boolean;
}) {
  const calls = { link: 0, management: [] as Array<{ disposition: string; options: unknown }> };
  const link = { name: "orders-link", is_open: () => o.linkOpen ?? true };
  const receiver = {
    entityPath: "orders",
    completeMessage: () => {
      calls.link += 1;
      return o.onLink();
    },
    abandonMessage: () => {
      calls.link += 1;
      return o.onLink();
    },
    deadLetterMessage: () => {
      calls.link += 1;
      return o.onLink();
    },
    _context: {
      messageReceivers: { "orders-link": { link: { _link: link } } },
      getManagementClient: () => ({
        updateDispositionStatus: (_token: string, disposition: string, options: unknown) => {
          calls.management.push({ disposition, options });
          return o.onManagement();
        },
      }),
    },
  } as unknown as ServiceBusReceiver;
  const message = {
    messageId: "m1",
    lockToken: "4b7f6a9e-0000-4000-8000-000000000001",
    delivery: { link },
  } as unknown as ServiceBusReceivedMessage;
  return { receiver, message, calls };
}

describe("settling within a bounded time", () => {
  it("settles on the receive link when it answers", async () => {
    const { receiver, message, calls } = fakeReceiver({ onLink: async () => {}, onManagement: never });
    const path = await settle(receiver, message, { kind: "complete" }, "orders", memoryLogger().logger, 200);
    assert.equal(path, "link");
    assert.equal(calls.management.length, 0);
  });

  it("falls back to the management link by lock token when the receive link does not answer in time", async () => {
    const { receiver, message, calls } = fakeReceiver({ onLink: never, onManagement: async () => {} });
    const started = Date.now();
    const path = await settle(
      receiver,
      message,
      { kind: "deadLetter", reason: "InvalidBody", description: "x: required", properties: { a: 1 } },
      "orders",
      memoryLogger().logger,
      200,
    );
    assert.equal(path, "management");
    assert.ok(Date.now() - started < 1_000, "within the settle timeout, not the SDK's 60 s");
    assert.deepEqual(calls.management[0], {
      disposition: "deadletter",
      options: {
        propertiesToModify: { a: 1 },
        deadLetterReason: "InvalidBody",
        deadLetterDescription: "x: required",
        timeoutInMs: 200,
      },
    });
  });

  it("goes straight to the management link for a message whose receive link is closed", async () => {
    const { receiver, message, calls } = fakeReceiver({
      onLink: never,
      onManagement: async () => {},
      linkOpen: false,
    });
    const path = await settle(
      receiver,
      message,
      { kind: "complete" },
      "orders",
      memoryLogger().logger,
      5_000,
    );
    assert.equal(path, "management");
    assert.equal(calls.link, 0, "no disposition sent on a dead link");
  });

  it("leaves the message to its lock's expiry, saying so, when neither link answers", async () => {
    const log = memoryLogger();
    const { receiver, message } = fakeReceiver({ onLink: never, onManagement: never });
    const path = await settle(
      receiver,
      message,
      { kind: "abandon", why: "503", properties: {} },
      "orders",
      log.logger,
      100,
    );
    assert.equal(path, "lapsed");
    assert.match(
      log.text(),
      /no longer renewing its lock, so the broker redelivers it when the lock expires/,
    );
  });

  it("does not try the management link when the lock is already lost", async () => {
    const lost = Object.assign(new Error("lock lost"), { code: "MessageLockLost" });
    const { receiver, message, calls } = fakeReceiver({
      onLink: () => Promise.reject(lost),
      onManagement: async () => {},
    });
    const path = await settle(receiver, message, { kind: "complete" }, "orders", memoryLogger().logger, 200);
    assert.equal(path, "lockLost");
    assert.equal(calls.management.length, 0);
  });
});
