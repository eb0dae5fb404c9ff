import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";
import { context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Logger } from "pino";

import { retryDelayMs, sleep } from "./backoff.ts";
import type { EntityRef } from "./config.ts";
import type { Custody, CustodyRecord, Reservation } from "./custody.ts";
import type { TokenHealth } from "./token-health.ts";
import { serviceBusErrorOf } from "./fixes.ts";
import { excerpt } from "../shared/redact.ts";
import { withinTime } from "../shared/time-limit.ts";

export interface ReceiveLoopOptions {
  readonly client: () => ServiceBusClient;
  readonly entity: EntityRef;
  /** Grants credit and owns what it brings, across all entities (the worker's one bound). */
  readonly custody: Custody;
  /** Receiving pauses while any token source is down: nothing is taken that could not be processed. */
  readonly tokenHealth: TokenHealth;
  /** Takes the message to its settlement and then releases `record`. */
  readonly dispatch: (
    record: CustodyRecord,
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
  ) => void;
  readonly stop: AbortSignal;
  readonly log: Logger;
  /** Told whether the loop is currently receiving successfully (readiness), and if not why and what to do. */
  readonly onHealth: (healthy: boolean, problem?: string, fix?: string) => void;
  /** What to do about a receive failure with this SDK error code (src/worker/fixes.ts). */
  readonly fixFor: (code: string | undefined) => string;
  /** Most time one receive call may wait for a first message. */
  readonly maxWaitMs?: number;
}

/** Longest wait of a receive while messages are flowing. */
const BUSY_WAIT_MS = 50;

/** After this many failed receives in a row the receiver is thrown away and made anew. */
const FAILURES_BEFORE_NEW_RECEIVER = 3;

/**
 * Pulls messages from one entity, only as much credit as the custody grants it, and hands them to the dispatcher.
 * It owns its receivers: a receiver that keeps failing (or hangs) is replaced, because the SDK alone can stop
 * receiving silently after connection trouble. A replaced receiver is closed only once the messages it delivered
 * are settled, since settling needs it.
 */
export async function receiveLoop(o: ReceiveLoopOptions): Promise<void> {
  const maxWaitMs = o.maxWaitMs ?? 5_000;
  const outstanding = new Map<ServiceBusReceiver, number>();
  const retire = new Set<ServiceBusReceiver>();
  const closeIfDone = async (receiver: ServiceBusReceiver) => {
    if (retire.has(receiver) && (outstanding.get(receiver) ?? 0) === 0) {
      retire.delete(receiver);
      outstanding.delete(receiver);
      await receiver.close().catch(() => undefined);
    }
  };
  const create = () =>
    // Opened under the root context so the SDK's spans never adopt whatever span happened to be active here.
    otelContext.with(ROOT_CONTEXT, () =>
      o.entity.kind === "queue"
        ? o
            .client()
            .createReceiver(o.entity.queue, { receiveMode: "peekLock", maxAutoLockRenewalDurationInMs: 0 })
        : o.client().createReceiver(o.entity.topic, o.entity.subscription, {
            receiveMode: "peekLock",
            maxAutoLockRenewalDurationInMs: 0,
          }),
    );

  let receiver = create();
  let failures = 0;
  let lastProblem: string | undefined;
  // After its first message the SDK waits up to 1 s for the rest of the batch; while messages are flowing that
  // wait only delays the next receive, so wait briefly then and long only when the entity looked empty.
  let busy = false;
  while (!o.stop.aborted) {
    let reservation: Reservation;
    try {
      await o.tokenHealth.waitForAll(o.stop);
      reservation = await o.custody.reserve(o.entity.path, o.stop);
    } catch {
      break; // stopping
    }
    let messages: ServiceBusReceivedMessage[];
    const shortWait = busy;
    try {
      // A receive call that outlives its own wait by far is a sign of a silently dead link.
      messages = await withinTime(
        // Not aborted on stop: messages the broker already locked for us would be dropped by the SDK and come back
        // only when their locks expire. The call ends within maxWaitMs, and what it brings is abandoned at once.
        receiver.receiveMessages(reservation.credit, {
          maxWaitTimeInMs: shortWait ? BUSY_WAIT_MS : maxWaitMs,
        }),
        maxWaitMs + 30_000,
        `receive from ${o.entity.path}`,
      );
      failures = 0;
      busy = messages.length > 0;
      if (lastProblem !== undefined) {
        o.log.info({ entity: o.entity.path }, "receiving again");
        lastProblem = undefined;
      }
      o.onHealth(true);
    } catch (error) {
      reservation.fail();
      if (o.stop.aborted) break;
      failures += 1;
      const { code, message } = serviceBusErrorOf(error);
      const cause = code ?? (error as Error).name;
      const problem = excerpt(`${cause}: ${message}`, 300);
      const fix = o.fixFor(code);
      o.onHealth(false, problem, fix);
      // Said once per cause at warn, with the fix; the retries that follow go to debug. The cloud may heal.
      if (cause !== lastProblem) {
        o.log.warn(
          { entity: o.entity.path, err: problem, fix },
          `cannot receive from ${o.entity.path}: ${fix} (retrying)`,
        );
        lastProblem = cause;
      } else
        o.log.debug({ entity: o.entity.path, failures, err: problem }, "receiving failed again; retrying");
      if (failures >= FAILURES_BEFORE_NEW_RECEIVER) {
        o.log.debug({ entity: o.entity.path }, "replacing the receiver after repeated failures");
        retire.add(receiver);
        void closeIfDone(receiver);
        receiver = create();
        failures = 0;
      }
      await sleep(retryDelayMs(failures + 1, { baseMs: 500, maxMs: 10_000 }), o.stop).catch(() => undefined);
      continue;
    }
    const from = receiver;
    outstanding.set(from, (outstanding.get(from) ?? 0) + messages.length);
    const records = reservation.admit(messages.length, {
      onRelease: () => {
        outstanding.set(from, (outstanding.get(from) ?? 1) - 1);
        void closeIfDone(from);
      },
      sawEmpty: !shortWait,
    });
    messages.forEach((message, i) => o.dispatch(records[i]!, message, from, o.entity));
  }
  retire.add(receiver);
}
