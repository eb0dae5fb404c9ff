import type { ServiceBusSessionReceiver } from "@azure/service-bus";
import type { Logger } from "pino";

import type { HandlerSession } from "./handler.ts";
import { keepLockRenewed, type LockKeeper } from "./lock-renewal.ts";

/** A held session's lock, kept renewed by the worker from accept to release. */
export interface SessionLock {
  /** Aborted with a LockLostError when the session's lock is gone or will not be renewed any more. */
  readonly lost: AbortSignal;
  /**
   * The lock as one message's delivery sees it (the dispatcher's LockKeeper): its run gets WORKER_MAX_LOCK_RENEWAL_MS
   * of renewal from now, like a plain message's lock; `stop()` (the message is settled) lifts that limit again.
   */
  forMessage(): LockKeeper;
  /** Stops renewing, for good (the session is being released). */
  stop(): void;
}

/**
 * Owns a session receiver's lock as lock-renewal.ts owns a message's: the SDK's auto-renewal is off (the receiver is
 * accepted with maxAutoLockRenewalDurationInMs 0), so a lost session lock aborts the running handler instead of
 * letting it finish work whose settlement would fail. Between messages the lock is renewed without limit (the
 * session is released after WORKER_SESSION_IDLE_MS without a message anyway); while a message runs, for at most
 * `maxRenewalMs` from its receipt, so a stuck handler loses the session as a plain one loses its message.
 *
 * A session's messages have no lock of their own to renew (the SDK refuses renewMessageLock for them): this is the
 * only lock a session's delivery keeps.
 */
export function sessionLock(
  receiver: Pick<ServiceBusSessionReceiver, "renewSessionLock" | "sessionLockedUntilUtc">,
  options: { maxRenewalMs: number; log: Logger },
): SessionLock {
  const session = {
    get lockedUntilUtc() {
      return receiver.sessionLockedUntilUtc;
    },
  };
  const keeper = keepLockRenewed({ renewMessageLock: () => receiver.renewSessionLock() }, session, options);
  keeper.renewWithoutLimit(true);
  return {
    lost: keeper.lockLost,
    forMessage: () => {
      keeper.renewWithoutLimit(false);
      return {
        lockLost: keeper.lockLost,
        renewWithoutLimit: (on) => keeper.renewWithoutLimit(on),
        stop: () => keeper.renewWithoutLimit(true),
      };
    },
    stop: () => keeper.stop(),
  };
}

/**
 * What a handler may do with its message's session (ctx.session): its id, and its state as JSON. The SDK stores a
 * value as its JSON text and parses it back; an empty state (none set, or removed) reads as undefined.
 */
export function sessionContext(
  receiver: Pick<ServiceBusSessionReceiver, "sessionId" | "getSessionState" | "setSessionState">,
): HandlerSession {
  return {
    id: receiver.sessionId,
    getState: async () => {
      const state: unknown = await receiver.getSessionState();
      if (state === null || state === undefined) return undefined;
      return Buffer.isBuffer(state) && state.length === 0 ? undefined : state;
    },
    // An empty buffer removes the state; anything else goes as JSON.
    setState: (state) => receiver.setSessionState(state === undefined ? Buffer.alloc(0) : state),
  };
}
