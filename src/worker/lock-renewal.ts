import type { ServiceBusReceivedMessage } from "@azure/service-bus";
import type { Logger } from "pino";

import { LockLostError } from "./errors.ts";
import { excerpt } from "../shared/redact.ts";

export interface LockKeeper {
  /** Aborted with a LockLostError when the lock is gone or will not be renewed any more. */
  readonly lockLost: AbortSignal;
  /**
   * While true, renew past `maxRenewalMs`: the message is waiting for its token source, not stuck in a handler.
   * Back to false, the handler gets a fresh `maxRenewalMs` from then.
   */
  renewWithoutLimit(on: boolean): void;
  /** Stops renewing, at once and for good (called before settling). */
  stop(): void;
}

/** Something with a lock that expires and can be renewed: a peek-lock message, or a session (session-lock.ts). */
export interface Locked {
  readonly lockedUntilUtc?: Date | undefined;
}

/** The errors that say a lock is gone for good: renewing again cannot help. */
const LOCK_LOST_CODES = new Set(["MessageLockLost", "SessionLockLost"]);

/**
 * Keeps a peek-lock message's lock alive from receipt until it is settled, for at most `maxRenewalMs`.
 * We renew ourselves (the SDK's auto-renewal is off) so that a lost lock aborts the handler instead of letting it
 * finish work whose settlement would fail. A session's lock is kept the same way (session-lock.ts).
 */
export function keepLockRenewed<M extends Locked = ServiceBusReceivedMessage>(
  receiver: { renewMessageLock(message: M): Promise<unknown> },
  message: M,
  options: { maxRenewalMs: number; log: Logger; now?: () => number },
): LockKeeper {
  const now = options.now ?? Date.now;
  const controller = new AbortController();
  let renewUntil = now() + options.maxRenewalMs;
  let unlimited = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let renewing = false; // a renewal call is out: its end plans the next step

  const lose = (why: string) => {
    if (!controller.signal.aborted) controller.abort(new LockLostError(why));
  };

  const schedule = () => {
    if (stopped) return;
    const lockedUntil = message.lockedUntilUtc?.getTime();
    if (lockedUntil === undefined) return; // receive-and-delete: no lock to keep
    const remaining = lockedUntil - now();
    // Renew with a margin: half the remaining time, at most 10 s before expiry (what the SDK does too).
    const renewIn = Math.max(0, remaining - Math.min(remaining / 2, 10_000));
    if (!unlimited && now() + renewIn > renewUntil) {
      timer = setTimeout(
        () => lose(`lock expired: renewed for the maximum of ${options.maxRenewalMs} ms`),
        Math.max(0, remaining),
      );
      return;
    }
    timer = setTimeout(renew, renewIn);
  };

  const renew = async () => {
    if (stopped) return;
    renewing = true;
    try {
      await receiver.renewMessageLock(message);
      renewing = false;
      schedule();
    } catch (error) {
      renewing = false;
      const code = (error as { code?: string }).code;
      const lockedUntil = message.lockedUntilUtc?.getTime() ?? 0;
      if (!LOCK_LOST_CODES.has(code ?? "") && lockedUntil - now() > 2_000 && !stopped) {
        options.log.warn({ err: excerpt(String(error)) }, "lock renewal failed; trying again");
        timer = setTimeout(renew, 1_000);
        return;
      }
      lose(`lock renewal failed: ${excerpt((error as Error).message ?? String(error), 200)}`);
    }
  };

  schedule();
  return {
    lockLost: controller.signal,
    renewWithoutLimit(on) {
      if (stopped || on === unlimited) return;
      unlimited = on;
      if (!on) renewUntil = now() + options.maxRenewalMs;
      // Re-plan: the pending timer may be the "give up at expiry" one.
      if (renewing || controller.signal.aborted) return;
      clearTimeout(timer);
      schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
