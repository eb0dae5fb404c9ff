import type {
  MessageHandlers,
  ProcessErrorArgs,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
} from "@azure/service-bus";
import { context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";

import { sleep } from "./backoff.ts";
import type { EntityRef } from "./config.ts";
import type { CustodyRecord, Reservation } from "./custody.ts";
import { type EntityLoopOptions, receiveHealth } from "./entity-loop.ts";
import { type LinkCredit, takeLinkCredit } from "./servicebus-internals.ts";
import { abortable } from "../shared/abortable.ts";
import { excerpt } from "../shared/redact.ts";
import { settlesWithin } from "../shared/time-limit.ts";

export interface ReceiveLoopOptions extends EntityLoopOptions {
  /** Takes the message to its settlement and then releases `record`. */
  readonly dispatch: (
    record: CustodyRecord,
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
  ) => void;
  /** How long credit may stand unused before the entity counts as empty and lends its share. Default 5 s. */
  readonly maxWaitMs?: number;
}

/** How often the loop looks whether its standing credit should come back (entity empty, or a token source down). */
const CHECK_EVERY_MS = 250;

/** After failures, a re-attached link counts as receiving once it has stood this long (or brought a message). */
const STABLE_AFTER_MS = 1_000;

/** Longest wait for the SDK to stop a subscription (drain included) on stop. */
const STOP_WAIT_MS = 5_000;

/** A grant of credit and the link it went out on: a re-attached link starts without it. */
interface Grant {
  readonly reservation: Reservation;
  readonly link: object;
}

/**
 * Keeps a standing credit window on one entity: as much credit as the custody grants it, topped up as messages
 * settle, so the link is never idle while there is room (a pull loop waits a round trip between batches).
 *
 * Why `subscribe()`: it is the SDK's streaming receiver — one link kept open and re-attached by the SDK after
 * connection trouble, messages handed over as they arrive — and the SDK's settlement, lock renewal and management
 * link work on its messages as on any other. Its own credit rule (maxConcurrentCalls, plus one each time
 * processMessage returns) cannot express the custody (shares that change as entities lend, one bound across entities),
 * so the worker takes the link's credit over (servicebus-internals.ts `takeLinkCredit`): the SDK grants nothing, and
 * every credit is reserved in the custody before it goes out. `processMessage` only hands the message to the
 * dispatcher; its return grants nothing.
 *
 * Credit comes back with a drain when it stood unused for `maxWaitMs` (the entity looks empty: it keeps a probe
 * credit and lends the rest, when there is another entity to lend to), when a token source goes down (nothing is
 * taken that could not be processed), and on stop (before the in-flight messages settle).
 */
export async function receiveLoop(o: ReceiveLoopOptions): Promise<void> {
  const idleAfterMs = o.maxWaitMs ?? 5_000;
  const path = o.entity.path;
  // Opened under the root context so the SDK's spans never adopt whatever span happened to be active here.
  const receiver = otelContext.with(ROOT_CONTEXT, () =>
    o.entity.kind === "queue"
      ? o
          .client()
          .createReceiver(o.entity.queue, { receiveMode: "peekLock", maxAutoLockRenewalDurationInMs: 0 })
      : o.client().createReceiver(o.entity.topic, o.entity.subscription, {
          receiveMode: "peekLock",
          maxAutoLockRenewalDurationInMs: 0,
        }),
  );

  let grants: Grant[] = [];
  let attached = Promise.withResolvers<void>();
  let isAttached = false;
  let draining: Promise<void> | undefined;
  let lastActivity = Date.now();
  const health = receiveHealth(o, "receiving failed again; retrying");
  let stable: NodeJS.Timeout | undefined;

  const outstanding = () => grants.reduce((n, g) => n + g.reservation.remaining, 0);
  const giveBack = (which: (g: Grant) => boolean, sawEmpty: boolean) => {
    const [back, kept] = [grants.filter(which), grants.filter((g) => !which(g))];
    grants = kept;
    for (const g of back) g.reservation.close({ sawEmpty });
  };
  /** The record of a message that just arrived: from the oldest credit still open. */
  const recordFor = (): CustodyRecord => {
    while (grants.length > 0 && grants[0]!.reservation.remaining === 0) grants.shift()!.reservation.close();
    const grant = grants[0];
    // No credit of ours: a replaced link's late message. Held anyway; the custody lets nothing in until it settles.
    return grant ? grant.reservation.take() : o.custody.adopt(path);
  };

  /** The SDK's current link is open: a refused attach (answered, then detached at once) may be seen in either order. */
  const linkOpen = () => (credit?.current() as { isOpen?: () => boolean } | undefined)?.isOpen?.() !== false;
  const onAttached = () => {
    // Credit granted on an earlier link is gone with it (the broker forgets a detached link's credit).
    const current = credit?.current();
    giveBack((g) => g.link !== current, false);
    if (!linkOpen()) return; // already detached again: the error that came first has said why
    isAttached = true;
    attached.resolve();
    // A link that failed before may be attached only to be detached again (a missing entity, a refused role): it
    // counts as receiving once it has stood a while or brought a message, so the problem is said once.
    if (health.failures === 0) health.recovered();
    else {
      clearTimeout(stable);
      stable = setTimeout(() => isAttached && linkOpen() && health.recovered(), STABLE_AFTER_MS);
      stable.unref();
    }
  };

  const onError = (args: ProcessErrorArgs) => {
    if (args.errorSource !== "receive") {
      o.log.debug(
        { entity: path, source: args.errorSource, err: excerpt(String(args.error)) },
        "receiver error",
      );
      return;
    }
    if (o.stop.aborted) return;
    clearTimeout(stable);
    if (isAttached) {
      isAttached = false;
      attached = Promise.withResolvers<void>();
    }
    health.failed(args.error);
  };

  const handlers: MessageHandlers & { preInitialize(): Promise<void>; postInitialize(): Promise<void> } = {
    processMessage: async (message) => {
      lastActivity = Date.now();
      if (health.failures > 0) health.recovered();
      o.dispatch(recordFor(), message, receiver, o.entity);
    },
    processError: async (args) => onError(args),
    // The SDK calls these around each link attach, postInitialize before the credit it would have granted: internal
    // hooks of the same SDK version as servicebus-internals.ts (without them the loop receives but never says so).
    // Before each attach: after failures, a backoff, so a link refused at once is not re-attached hot.
    preInitialize: () => health.backoff(),
    postInitialize: async () => onAttached(),
  };
  const subscription = receiver.subscribe(handlers, {
    autoCompleteMessages: false,
    maxConcurrentCalls: 1,
    // The SDK wraps each processMessage in a span of its own (`StreamReceiver.process`), a root span per message
    // beside ours: suppressed, `process <entity>` is the message's one consumer span.
    tracingOptions: { tracingContext: suppressTracing(ROOT_CONTEXT) },
  });
  const credit: LinkCredit = takeLinkCredit(receiver);

  /** Takes back all standing credit: what the broker sends meanwhile still arrives and is dispatched. */
  const drain = (sawEmpty: boolean) => {
    draining ??= credit
      .drain()
      .catch(() => undefined)
      .then(() => {
        giveBack(() => true, sawEmpty);
        draining = undefined;
      });
    return draining;
  };

  const check = setInterval(() => {
    if (draining || outstanding() === 0) return;
    if (!o.tokenHealth.allUp) void drain(false);
    else if (o.custody.entities > 1 && outstanding() > 1 && Date.now() - lastActivity >= idleAfterMs)
      void drain(true);
  }, CHECK_EVERY_MS);
  check.unref();

  try {
    while (!o.stop.aborted) {
      let reservation: Reservation;
      try {
        await o.tokenHealth.waitForAll(o.stop);
        if (!isAttached) await abortable(attached.promise, o.stop);
        // One macrotask: messages settled in the same tick come back as one grant, one flow frame.
        await new Promise((resolve) => setImmediate(resolve));
        if (draining) await draining;
        // Top up in batches of half the window while credit still stands at the broker (one flow frame per batch, not
        // per message); at once, with whatever there is, when none stands (the link would idle).
        reservation = await o.custody.reserve(path, o.stop, {
          atLeast: () => (outstanding() > 0 ? Math.ceil(o.custody.limitOf(path) / 2) : 1),
        });
      } catch {
        break; // stopping
      }
      if (!o.tokenHealth.allUp || !isAttached || draining) {
        reservation.fail();
        continue;
      }
      try {
        grants.push({ reservation, link: credit.add(reservation.credit) });
        lastActivity = Date.now();
      } catch {
        reservation.fail(); // no open link right now: the SDK is re-attaching
        await sleep(100, o.stop).catch(() => undefined);
      }
    }
  } finally {
    clearInterval(check);
    clearTimeout(stable);
    // Ordered stop, first step: no more credit, and what stands is drained; in-flight messages settle afterwards on
    // this still-open link (the client closes it after the custody is empty).
    // Bounded: while the SDK is still retrying an attach, closing waits for its retry delay.
    await settlesWithin(subscription.close(), STOP_WAIT_MS);
    if (draining) await draining;
    giveBack(() => true, false);
  }
}
