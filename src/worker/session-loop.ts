import type {
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSessionReceiver,
} from "@azure/service-bus";
import { context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";

import { sleep } from "./backoff.ts";
import type { EntityRef } from "./config.ts";
import type { CustodyRecord } from "./custody.ts";
import type { SessionDelivery } from "./dispatcher.ts";
import { type EntityLoopOptions, receiveHealth } from "./entity-loop.ts";
import { serviceBusErrorOf } from "./fixes.ts";
import { sessionContext, sessionLock } from "./session-lock.ts";
import type { SettlePath } from "./settle.ts";
import { abortable } from "../shared/abortable.ts";
import { linkedAbort } from "../shared/linked-abort.ts";
import { excerpt } from "../shared/redact.ts";
import { settlesWithin } from "../shared/time-limit.ts";

/**
 * A session entity's loop: each message a session receives is reserved in the custody first, and no session is
 * accepted (a held one is released) while any token source is down.
 */
export interface SessionLoopOptions extends EntityLoopOptions {
  /** Takes the message to its settlement, releases `record`, and says how it was settled. */
  readonly dispatch: (
    record: CustodyRecord,
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
    session: SessionDelivery,
  ) => Promise<SettlePath | undefined>;
  /** Sessions held at once (WORKER_MAX_CONCURRENT_SESSIONS). */
  readonly maxSessions: number;
  /** A held session that brings no message for this long is released (WORKER_SESSION_IDLE_MS). */
  readonly idleMs: number;
  /** How long one message's run keeps its session's lock renewed (WORKER_MAX_LOCK_RENEWAL_MS). */
  readonly maxLockRenewalMs: number;
  /**
   * Accepts the broker still holds are kept here until they end: the worker closes the client only after them, or
   * the SDK's attach timer (60 s, not unref'd) would keep the stopped process alive.
   */
  readonly pendingAccepts: Set<Promise<unknown>>;
}

/** Pause of a slot whose accept found no session: the broker held the accept for its timeout already. */
const NO_SESSION_PAUSE_MS = 100;

/** An accept that has been waiting this long without a refusal counts as receiving (the broker holds it). */
const STABLE_AFTER_MS = 1_000;

/** Longest wait for a session receiver to close. */
const CLOSE_WAIT_MS = 5_000;

const STOPPED = Symbol("stopped");

/** Accept outcomes that are normal: nothing to accept now (ServiceTimeout), or a session another receiver took. */
const NOTHING_TO_ACCEPT = new Set(["ServiceTimeout", "SessionCannotBeLocked"]);

/**
 * Processes one session entity: up to `maxSessions` slots, each holding one session at a time. A slot accepts the
 * next available session, then receives its messages one at a time (one credit, reserved in the custody) and waits
 * for each to be settled before asking for the next, so a session's messages are handled in the order they were
 * sent, an abandoned one first again. It releases the session (closes its receiver) when no message came for
 * `idleMs`, when the session's lock is lost, when a settlement did not reach the broker (the message stays locked
 * under the session, so only a release brings it back first), when a token source goes down, and on stop.
 *
 * Why not prefetch the session's next message while one runs: if the running one is abandoned, the broker hands it
 * back first, but the prefetched one would already be here, and would run before it.
 */
export async function sessionLoop(o: SessionLoopOptions): Promise<void> {
  const path = o.entity.path;
  let held = 0; // sessions held by the slots
  const health = receiveHealth(o, "accepting a session failed again; retrying");
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    if (o.stop.aborted) resolve(STOPPED);
    else o.stop.addEventListener("abort", () => resolve(STOPPED), { once: true });
  });

  /** The next available session, or undefined when there is none now (or the worker is stopping). */
  const accept = async (): Promise<ServiceBusSessionReceiver | undefined> => {
    const options = {
      receiveMode: "peekLock",
      maxAutoLockRenewalDurationInMs: 0,
      abortSignal: o.stop,
    } as const;
    // Opened under the root context so the SDK's spans never adopt whatever span happened to be active here.
    const accepting = otelContext.with(ROOT_CONTEXT, () =>
      o.entity.kind === "queue"
        ? o.client().acceptNextSession(o.entity.queue, options)
        : o.client().acceptNextSession(o.entity.topic, o.entity.subscription, options),
    );
    const pending = accepting.catch(() => undefined).finally(() => o.pendingAccepts.delete(pending));
    o.pendingAccepts.add(pending);
    const stable = setTimeout(() => health.failures === 0 && health.recovered(), STABLE_AFTER_MS);
    stable.unref();
    try {
      // The SDK cannot abort an attach the broker holds: on stop, stop waiting and close what it brings later.
      const receiver = await abortable(accepting, o.stop);
      health.recovered();
      return receiver;
    } catch (error) {
      accepting.then((late) => late.close()).catch(() => undefined);
      if (o.stop.aborted) return undefined;
      if (NOTHING_TO_ACCEPT.has(serviceBusErrorOf(error).code ?? "")) {
        health.recovered();
        if (held === 0) o.custody.lookedEmpty(path); // nothing anywhere: lend the share, as an empty entity does
        await sleep(NO_SESSION_PAUSE_MS, o.stop).catch(() => undefined);
        return undefined;
      }
      health.failed(error);
      await health.backoff();
      return undefined;
    } finally {
      clearTimeout(stable);
    }
  };

  /** Receives and processes one session's messages, one at a time, until it is released. */
  const hold = async (receiver: ServiceBusSessionReceiver): Promise<void> => {
    const log = o.log.child({ entity: path, sessionId: excerpt(receiver.sessionId, 200) });
    const lock = sessionLock(receiver, { maxRenewalMs: o.maxLockRenewalMs, log });
    const context = sessionContext(receiver);
    const ending = linkedAbort([o.stop, lock.lost]);
    let why = "idle";
    let settling: Promise<unknown> | undefined;
    held += 1;
    try {
      while (!ending.signal.aborted) {
        if (!o.tokenHealth.allUp) {
          why = "a token source is down";
          break;
        }
        let reservation;
        try {
          reservation = await o.custody.reserve(path, ending.signal, { max: 1 });
        } catch {
          break; // stopping, or the lock is gone
        }
        let messages: ServiceBusReceivedMessage[];
        try {
          messages = await receiver.receiveMessages(1, { maxWaitTimeInMs: o.idleMs });
        } catch (error) {
          reservation.fail();
          why = `receive failed: ${excerpt(serviceBusErrorOf(error).message, 200)}`;
          break;
        }
        // One session's silence says nothing about the entity: the custody is not told it looked empty.
        const [record] = reservation.admit(messages.length, { sawEmpty: false });
        if (!record) break; // idle for idleMs: let another session have the slot
        settling = o.dispatch(record, messages[0]!, receiver, o.entity, { lock: lock.forMessage(), context });
        // On stop the slot returns at once (the shutdown grace period bounds the running handler, not this loop);
        // the session is released once the message is settled.
        const settled = await Promise.race([settling, stopped]);
        if (settled === STOPPED) break;
        settling = undefined;
        if (settled !== "link" && settled !== "management") {
          // Lock lost, or the settlement lapsed: the message is still locked under this session. Released, the
          // session comes back with it first, on this replica or another.
          why = settled === "lockLost" ? "session lock lost" : "a settlement did not reach the broker";
          break;
        }
      }
      if (lock.lost.aborted) why = "session lock lost";
      else if (o.stop.aborted) why = "stopping";
    } finally {
      const release = async () => {
        ending.dispose();
        lock.stop();
        held -= 1;
        log.debug({ why }, "session released");
        await settlesWithin(
          receiver.close().catch(() => undefined),
          CLOSE_WAIT_MS,
        );
      };
      if (settling) void settling.then(release);
      else await release();
    }
  };

  const slot = async (): Promise<void> => {
    while (!o.stop.aborted) {
      try {
        await o.tokenHealth.waitForAll(o.stop);
      } catch {
        return; // stopping
      }
      const receiver = await accept();
      if (!receiver) continue;
      if (o.stop.aborted) {
        await settlesWithin(
          receiver.close().catch(() => undefined),
          CLOSE_WAIT_MS,
        );
        return;
      }
      await hold(receiver);
    }
  };

  await Promise.all(Array.from({ length: o.maxSessions }, () => slot()));
}
