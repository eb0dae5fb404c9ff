import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname } from "node:path";

import type { OutcomeEvent } from "../../src/worker/dispatcher.ts";
import type { HandlerMap } from "../../src/worker/handler.ts";
import { createWorkerFromEnv } from "../../src/worker/start.ts";
import type { WorkerHandle } from "../../src/worker/worker.ts";
import { memoryLogger, type TestStack } from "../support/stack.ts";
import { testHandlers } from "./fixtures.ts";

/** A topology with a short lock, for tests about locks and redelivery. */
export const shortLockTopology = (lockDuration = "PT2S", maxDeliveryCount = 5) => ({
  UserConfig: {
    Namespaces: [
      {
        Name: "sbemulatorns",
        Queues: [
          { Name: "orders", Properties: { LockDuration: lockDuration, MaxDeliveryCount: maxDeliveryCount } },
        ],
        Topics: [],
      },
    ],
    Logging: { Type: "Console" },
  },
});

export interface TestWorker {
  readonly worker: WorkerHandle;
  readonly outcomes: Map<string, OutcomeEvent>;
  readonly log: ReturnType<typeof memoryLogger>;
  /** Resolves when every id has a final outcome (complete or dead-letter). */
  settled(ids: readonly string[], timeoutMs?: number): Promise<OutcomeEvent[]>;
}

/** The production worker, in-process, against the test stack, with the sample handlers. */
export async function startTestWorker(
  stack: TestStack,
  overrides: Record<string, string> = {},
  env: Record<string, string> = stack.workerEnv(overrides),
  handlers: HandlerMap = testHandlers,
): Promise<TestWorker> {
  const log = memoryLogger("info");
  const outcomes = new Map<string, OutcomeEvent>();
  const { worker } = createWorkerFromEnv({
    env,
    handlers,
    logger: log.logger,
    receiveWaitMs: 500,
    serviceBusClientOptions: { retryOptions: { maxRetries: 3, retryDelayInMs: 200, timeoutInMs: 10_000 } },
  });
  worker.on("delivery.settled", (event) => {
    if (event.outcome.kind === "complete" || event.outcome.kind === "deadLetter")
      outcomes.set(event.messageId, event);
  });
  await worker.started;
  return {
    worker,
    outcomes,
    log,
    settled: async (ids, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!ids.every((id) => outcomes.has(id))) {
        if (Date.now() > deadline) {
          throw new Error(
            `${ids.filter((id) => !outcomes.has(id)).length} of ${ids.length} not settled; log tail:\n${log.text().slice(-3000)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      return ids.map((id) => outcomes.get(id)!);
    },
  };
}

/** Sends `count` fulfil messages for fresh order ids made by `orderId(i)`; returns their message and order ids. */
export async function sendFulfilments(
  stack: TestStack,
  count: number,
  orderId: (i: number) => string = () => `o-${randomUUID()}`,
): Promise<Array<{ messageId: string; orderId: string }>> {
  const sent = Array.from({ length: count }, (_, i) => ({ messageId: randomUUID(), orderId: orderId(i) }));
  await stack.send(
    "orders",
    sent.map((s) => ({ messageId: s.messageId, subject: "orders.fulfil", body: { orderId: s.orderId } })),
  );
  return sent;
}

const KEYLESS = new URL("../../bin/keyless", import.meta.url).pathname;

/** `keyless run` as its own process, as a container runs it: `env` is its whole environment (plus PATH and HOME). */
export function spawnWorker(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = "";
  const child = spawn(KEYLESS, ["run"], {
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

/** Waits until `condition` holds, checking every 25 ms. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
