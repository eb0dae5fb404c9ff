/**
 * The unchanged SDK's receiveMessages ends a call whose wait ran out with credit left by draining, and waits
 * max(200 ms, time left) for the broker's answer; without one it closes its receiver link and re-attaches under the
 * same name (settlements of messages from the old link may then never be answered). Here every call waits 1 ms
 * while a backlog streams in, so it drains while the broker is writing its batch and the drain crosses those
 * transfers on the wire. The SDK says what it does through @azure/logger: each drain, and each recycle.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";

import type * as AzureLoggerModule from "@azure/logger";
import type { ServiceBusClient } from "@azure/service-bus";

import type { Broker } from "../../broker/index.ts";
import {
  connectionStringClient,
  emulatorConfig,
  entityStats,
  queue,
  removeTestCa,
  startTestBroker,
} from "./support.ts";

// The SDK is CommonJS and so loads @azure/logger's CommonJS build; an ESM import here would be another instance.
const { AzureLogger, setLogLevel } = createRequire(import.meta.url)(
  "@azure/logger",
) as typeof AzureLoggerModule;

const ROUNDS = 40;
const ASK = 50;

describe("receiveMessages while messages flow", () => {
  let broker: Broker;
  let client: ServiceBusClient;
  let drains = 0;
  const recycles: string[] = [];

  before(async () => {
    broker = await startTestBroker(emulatorConfig([queue("flowing", { LockDuration: "PT30S" })]));
    client = connectionStringClient(broker);
    // Verbose: the SDK reports each drain only at that level.
    setLogLevel("verbose");
    AzureLogger.log = (...args: unknown[]) => {
      const line = args.map(String).join(" ");
      if (line.includes("Draining leftover credits")) drains++;
      if (line.includes("when draining credits. Closing receiver")) recycles.push(line);
    };
  });
  after(async () => {
    setLogLevel();
    await client.close();
    await broker.close();
    await removeTestCa();
  });

  it("never makes the SDK recycle its receiver when its drains cross the broker's transfers", async () => {
    const sender = client.createSender("flowing");
    const receiver = client.createReceiver("flowing");
    let sent = 0;
    let received = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Keep a backlog of two batches, so the broker writes a full batch the moment the SDK grants credit.
      while (sent - received < 2 * ASK) {
        await sender.sendMessages(Array.from({ length: ASK }, () => ({ body: sent++ })));
      }
      const batch = await receiver.receiveMessages(ASK, { maxWaitTimeInMs: 1 });
      assert.deepEqual(
        recycles,
        [],
        `round ${round}: the SDK recycled its receiver after a drain went unanswered`,
      );
      await Promise.all(batch.map((m) => receiver.completeMessage(m)));
      received += batch.length;
    }
    assert.ok(drains >= ROUNDS / 2, `most calls ended with a drain (${drains} of ${ROUNDS})`);

    while (received < sent) {
      const rest = await receiver.receiveMessages(ASK, { maxWaitTimeInMs: 500 });
      assert.ok(rest.length > 0, `${sent - received} messages are missing`);
      await Promise.all(rest.map((m) => receiver.completeMessage(m)));
      received += rest.length;
    }
    assert.deepEqual(recycles, []);
    const stats = entityStats(broker, "flowing");
    assert.deepEqual([stats.active, stats.locked], [0, 0], "every message was completed");
    await receiver.close();
    await sender.close();
  });
});
