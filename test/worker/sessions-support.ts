import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { z } from "zod";

import { defineHandler, defineHandlers, type HandlerMap } from "../../src/worker/handler.ts";
import type { TestStack } from "../support/stack.ts";
import { refund } from "./fixtures.ts";

export const SESSION_QUEUE = "orders-by-order";

/** The plain queue and a session queue, with the lock and delivery count a test needs. */
export const sessionTopology = (lockDuration = "PT5S", maxDeliveryCount = 10) => ({
  UserConfig: {
    Namespaces: [
      {
        Name: "sbemulatorns",
        Queues: [
          { Name: "orders", Properties: { LockDuration: lockDuration, MaxDeliveryCount: maxDeliveryCount } },
          {
            Name: SESSION_QUEUE,
            Properties: {
              LockDuration: lockDuration,
              MaxDeliveryCount: maxDeliveryCount,
              RequiresSession: true,
            },
          },
        ],
        Topics: [],
      },
    ],
    Logging: { Type: "Console" },
  },
});

/** The worker's environment for the session queue alone. */
export const sessionEnv = (overrides: Record<string, string> = {}) => ({
  SERVICEBUS_ENTITIES: SESSION_QUEUE,
  SERVICEBUS_SESSION_ENTITIES: SESSION_QUEUE,
  WORKER_SESSION_IDLE_MS: "300",
  ...overrides,
});

/** One step of one session: message `<session>#<step>` fulfils order `<prefix><session>.<step>`. */
export interface Step {
  readonly session: string;
  readonly step: number;
  readonly messageId: string;
  readonly orderId: string;
}

/**
 * Sends `steps` fulfilments in each of `sessions` sessions, interleaved across sessions as a producer would. The
 * order id carries a fault prefix (e.g. "slow-30-") when `prefix` gives one.
 */
export async function sendSteps(
  stack: TestStack,
  sessions: number,
  steps: number,
  prefix: (session: number, step: number) => string = () => "",
): Promise<Step[]> {
  const run = randomUUID().slice(0, 8);
  const sent: Step[] = [];
  for (let step = 0; step < steps; step += 1) {
    for (let s = 0; s < sessions; s += 1) {
      const session = `s${s}-${run}`;
      sent.push({
        session,
        step,
        messageId: `${session}#${step}`,
        orderId: `${prefix(s, step)}${session}.${step}`,
      });
    }
  }
  // One send per step round keeps each session's messages in order on the broker, with sessions interleaved.
  for (let step = 0; step < steps; step += 1) {
    await stack.send(
      SESSION_QUEUE,
      sent
        .filter((m) => m.step === step)
        .map((m) => ({
          messageId: m.messageId,
          sessionId: m.session,
          subject: "orders.fulfil",
          body: { orderId: m.orderId },
        })),
    );
  }
  return sent;
}

/** The steps of `session` in the order the orders API was called for them, repeats of one step folded. */
export function callOrder(stack: TestStack, sent: readonly Step[], session: string): number[] {
  const byOrder = new Map(sent.filter((m) => m.session === session).map((m) => [m.orderId, m.step]));
  const order: number[] = [];
  for (const entry of stack.ordersApi.journal()) {
    const step = entry.orderId === undefined ? undefined : byOrder.get(entry.orderId);
    if (step !== undefined && order.at(-1) !== step) order.push(step);
  }
  return order;
}

/** Every session's steps reached the API in the order they were sent: 0, 1, 2, … and never back. */
export function assertInOrder(stack: TestStack, sent: readonly Step[]): void {
  const sessions = [...new Set(sent.map((m) => m.session))];
  for (const session of sessions) {
    const steps = sent.filter((m) => m.session === session).length;
    assert.deepEqual(
      callOrder(stack, sent, session),
      Array.from({ length: steps }, (_, i) => i),
      `session ${session} out of order`,
    );
  }
}

/** What handlers saw, across the replicas of one test: which session ran where, and how many at once. */
export class SessionRecorder {
  readonly #running = new Map<string, string>(); // session → replica
  /** Most sessions with a handler running at the same moment. */
  maxConcurrentSessions = 0;
  /** A session whose handler started while another of its handlers ran (on any replica): must stay empty. */
  readonly overlaps: string[] = [];
  /** Each handler run: replica and session, in start order. */
  readonly runs: Array<{ replica: string; session: string; messageId: string }> = [];

  /** Sessions with a handler running right now. */
  get runningNow(): number {
    return this.#running.size;
  }

  /** Handler runs that ended because their signal aborted, with the abort's reason. */
  readonly aborted: Array<{ messageId: string; reason: string }> = [];

  /**
   * The test handlers with `orders.fulfil` recording its runs as `replica`, after waiting `delayMs`. A first delivery
   * of a message `hangs` picks waits for its signal instead (and is recorded in `aborted`).
   */
  handlers(replica: string, delayMs = 0, hangs: (messageId: string) => boolean = () => false): HandlerMap {
    const fulfil = defineHandler({
      subject: "orders.fulfil",
      schema: z.object({ orderId: z.string() }),
      api: "orders",
      roles: ["Orders.Fulfil"],
      handle: async ({ body, api, message, signal }) => {
        const session = message.sessionId ?? "(none)";
        if (this.#running.has(session))
          this.overlaps.push(`${session}: ${this.#running.get(session)} and ${replica}`);
        this.#running.set(session, replica);
        this.maxConcurrentSessions = Math.max(this.maxConcurrentSessions, this.#running.size);
        this.runs.push({ replica, session, messageId: message.messageId });
        try {
          if (message.deliveryCount === 0 && hangs(message.messageId)) {
            await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
            this.aborted.push({
              messageId: message.messageId,
              reason: (signal.reason as Error)?.name ?? String(signal.reason),
            });
          }
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          signal.throwIfAborted();
          await api.post(`orders/${encodeURIComponent(body.orderId)}/fulfilment`, {});
        } finally {
          this.#running.delete(session);
        }
      },
    });
    return defineHandlers([fulfil, refund]);
  }
}
