import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import PQueue from "p-queue";
import type { Logger } from "pino";

import { ATTR, SERVICEBUS_SYSTEM } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { producerContext } from "../telemetry/message-context.ts";
import { SpanKind, withSpan } from "../telemetry/span.ts";
import type { RoleTokenSource } from "./api-client.ts";
import type { ApiConfig, EntityRef, WorkerConfig } from "./config.ts";
import { type DeliverySignals, messageInfo, type Route, routeOf, runDelivery } from "./delivery.ts";
import type { CustodyRecord } from "./custody.ts";
import type { WorkerEvents } from "./events.ts";
import type { HandlerMap, HandlerSession, MessageInfo } from "./handler.ts";
import { keepLockRenewed, type LockKeeper } from "./lock-renewal.ts";
import { lockLost, type Outcome, spanStatusOf, stopping } from "./outcome.ts";
import { settle, type SettlePath } from "./settle.ts";
import type { TokenHealth } from "./token-health.ts";
import { linkedAbort } from "../shared/linked-abort.ts";
import { excerpt } from "../shared/redact.ts";
import { lazyChild } from "../telemetry/lazy-logger.ts";

export interface DispatcherOptions {
  readonly config: WorkerConfig;
  readonly handlers: HandlerMap;
  readonly tokens: RoleTokenSource;
  readonly tokenHealth: TokenHealth;
  readonly log: Logger;
  readonly draining: AbortSignal;
  readonly abortNow: AbortSignal;
  readonly fetch?: typeof fetch;
  /** Where deliveries are told as they start, retry and settle. */
  readonly events: WorkerEvents;
}

export interface OutcomeEvent {
  readonly entity: string;
  readonly messageId: string;
  readonly subject: string | undefined;
  readonly deliveryCount: number;
  readonly outcome: Outcome;
  /** The broker took the outcome (on the receive link or, as a fallback, the management link). */
  readonly settled: boolean;
  readonly settlePath: SettlePath;
  readonly durationMs: number;
  readonly traceId: string | undefined;
}

/** What a slot returns for a delivery that was cancelled (stop) before it started. */
const NOT_STARTED = Symbol("not started");

/**
 * Runs received messages through p-queue: one global queue bounds concurrency, optional per-API queues bound one
 * API's concurrency and call rate. Each message arrives with its custody record and leaves it, released, once it
 * is settled or given up; the record's state says where it is (waiting for a slot or tokens, running, settling).
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #global: PQueue;
  readonly #perApi = new Map<string, PQueue>();
  readonly #waiting = new Set<{ cancel(): void }>();
  #running = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#global = new PQueue({ concurrency: options.config.concurrency });
    for (const api of Object.values(options.config.apis)) {
      if (api.concurrency !== undefined || api.rateLimit !== undefined) {
        this.#perApi.set(api.name, queueFor(api));
      }
    }
  }

  /** Handlers running right now. */
  get running(): number {
    return this.#running;
  }

  /** Abandons, without running them, the messages still waiting for a slot (on stop: prompt redelivery elsewhere). */
  cancelWaiting(): void {
    for (const entry of this.#waiting) entry.cancel();
  }

  /**
   * Takes one received message in custody to its settlement. Never throws; `record` is released at the end. Resolves
   * then with how it was settled (undefined when dispatch failed unexpectedly): a session waits for it before
   * receiving its next message. A session's message comes with the session's lock (no lock of its own can be renewed).
   */
  dispatch(
    record: CustodyRecord,
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
    session?: SessionDelivery,
  ): Promise<SettlePath | undefined> {
    // Routed and described once, here; everything after uses these.
    const route = routeOf(message, this.#o.handlers);
    const info = messageInfo(message, route.subject, entity.path);
    // Every message-derived log field is redacted: a producer may put anything in a subject or id, a token included.
    // Made only if a line is written (src/telemetry/lazy-logger.ts): most messages write none.
    const log = lazyChild(this.#o.log, () => ({
      entity: entity.path,
      messageId: excerpt(info.messageId, 200),
      ...(info.subject !== undefined ? { subject: excerpt(info.subject, 200) } : {}),
      deliveryCount: info.deliveryCount,
      ...(info.sessionId !== undefined ? { sessionId: excerpt(info.sessionId, 200) } : {}),
    }));
    const lock =
      session?.lock ??
      keepLockRenewed(receiver, message, { maxRenewalMs: this.#o.config.maxLockRenewalMs, log });
    const delivery: Delivery = {
      record,
      message,
      receiver,
      entity,
      route,
      info,
      lock,
      log,
      receivedAt: Date.now(),
      signals: { draining: this.#o.draining, abortNow: this.#o.abortNow, lockLost: lock.lockLost },
      session: session?.context,
    };
    return (async () => {
      try {
        return await this.#process(delivery);
      } catch (error) {
        log.error({ err: error }, "dispatch failed unexpectedly; the message returns after its lock expires");
        return undefined;
      } finally {
        lock.stop();
        record.release();
      }
    })();
  }

  /**
   * Runs `fn` in a concurrency slot (the API's queue first, when it has one). Resolves NOT_STARTED, without running
   * it, when the worker stops before a slot frees up.
   */
  #inSlot<T>(apiName: string | undefined, fn: () => Promise<T>): Promise<T | typeof NOT_STARTED> {
    return new Promise((resolve, reject) => {
      let state: "queued" | "started" | "cancelled" = "queued";
      const entry = {
        cancel: () => {
          if (state !== "queued") return;
          state = "cancelled";
          this.#waiting.delete(entry);
          resolve(NOT_STARTED);
        },
      };
      const run = async () => {
        if (state !== "queued") return;
        state = "started";
        this.#waiting.delete(entry);
        this.#running += 1;
        try {
          resolve(await fn());
        } catch (error) {
          reject(error as Error);
        } finally {
          this.#running -= 1;
        }
      };
      this.#waiting.add(entry);
      if (this.#o.draining.aborted) return entry.cancel(); // received while stopping: hand it back at once
      const apiQueue = apiName === undefined ? undefined : this.#perApi.get(apiName);
      void (apiQueue ? apiQueue.add(() => this.#global.add(run)) : this.#global.add(run));
    });
  }

  /**
   * Attempts until an outcome: waits (outside any slot, lock kept, no attempt spent) while the handler's API gives no
   * tokens, runs attempts in a slot, and goes back to waiting when the token source fails mid-delivery.
   */
  async #deliver(d: Delivery): Promise<Outcome> {
    const { record, lock, signals } = d;
    const apiName = d.route.handler?.api.toLowerCase();
    const health = this.#o.tokenHealth;
    let fromAttempt = 1;
    for (;;) {
      if (apiName !== undefined && !health.isUp(apiName)) {
        record.state = "waiting";
        lock.renewWithoutLimit(true);
        const wait = linkedAbort([signals.draining, signals.lockLost, signals.abortNow]);
        try {
          await health.waitFor(apiName, wait.signal);
        } catch {
          if (signals.lockLost.aborted) return lockLost("lock lost while waiting for tokens");
          return stopping("while waiting for tokens");
        } finally {
          wait.dispose();
          lock.renewWithoutLimit(false);
        }
      }
      const result = await this.#inSlot(apiName, async () => {
        if (signals.abortNow.aborted) return NOT_STARTED;
        record.state = "running";
        this.#o.events.emit({
          type: "delivery.started",
          entity: d.entity.path,
          messageId: d.info.messageId,
          subject: d.info.subject,
          deliveryCount: d.info.deliveryCount,
          attempt: fromAttempt,
        });
        return runDelivery(
          d.message,
          d.route,
          d.info,
          {
            handlers: this.#o.handlers,
            apis: this.#o.config.apis,
            tokens: this.#o.tokens,
            tokenHealth: health,
            config: this.#o.config,
            log: d.log,
            session: d.session,
            ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
            onRetry: (attempt, delayMs, reason) =>
              this.#o.events.emit({
                type: "delivery.retried",
                entity: d.entity.path,
                messageId: d.info.messageId,
                subject: d.info.subject,
                attempt,
                delayMs,
                reason,
              }),
          },
          signals,
          fromAttempt,
        );
      });
      if (result === NOT_STARTED) return stopping("before the message started");
      if (result.kind !== "tokensUnavailable") return result;
      fromAttempt = result.attempt; // the attempt that met no token did not count
    }
  }

  #process(d: Delivery): Promise<SettlePath> {
    const { entity, info } = d;
    const producer = producerContext(info.applicationProperties);
    const producerSpan = producer ? trace.getSpanContext(producer) : undefined;
    return withSpan(
      `process ${entity.path}`,
      {
        kind: SpanKind.CONSUMER,
        // The producer's context is the parent so that one message reads as one trace; it is also a link, as
        // the messaging conventions recommend for consumers. Never inherit an ambient parent.
        parent: producer ?? ROOT_CONTEXT,
        links: producerSpan ? [{ context: producerSpan }] : [],
        attributes: () => ({
          [ATTR.MESSAGING_SYSTEM]: SERVICEBUS_SYSTEM,
          [ATTR.MESSAGING_OPERATION_TYPE]: "process",
          [ATTR.MESSAGING_OPERATION_NAME]: "process",
          [ATTR.MESSAGING_DESTINATION]: entity.kind === "queue" ? entity.queue : entity.topic,
          ...(entity.kind === "subscription" ? { [ATTR.MESSAGING_SUBSCRIPTION]: entity.subscription } : {}),
          [ATTR.MESSAGING_MESSAGE_ID]: info.messageId,
          ...(info.correlationId !== undefined
            ? { [ATTR.MESSAGING_CONVERSATION_ID]: info.correlationId }
            : {}),
          [ATTR.SERVICEBUS_DELIVERY_COUNT]: info.deliveryCount,
          ...(info.sessionId !== undefined ? { [ATTR.SERVICEBUS_SESSION_ID]: info.sessionId } : {}),
          ...(info.enqueuedTime
            ? { [ATTR.SERVICEBUS_ENQUEUED_TIME]: Math.floor(info.enqueuedTime.getTime() / 1000) }
            : {}),
        }),
      },
      async (span) => {
        const traceId = trace.isSpanContextValid(span.spanContext()) ? span.spanContext().traceId : undefined;
        const outcome = await this.#deliver(d);
        span.setAttribute(ATTR.KEYLESS_OUTCOME, outcome.kind);
        if (outcome.kind === "deadLetter") span.setAttribute(ATTR.KEYLESS_DEAD_LETTER_REASON, outcome.reason);
        const status = spanStatusOf(outcome);
        if (status) span.setStatus(status);
        // Finished with it: no more renewals, whatever the settlement does.
        d.lock.stop();
        d.record.state = "settling";
        const settlePath = await settle(
          d.receiver,
          d.message,
          outcome,
          entity.path,
          d.log,
          this.#o.config.settleTimeoutMs,
        );
        const labels = {
          [ATTR.MESSAGING_DESTINATION]: entity.path,
          [ATTR.KEYLESS_OUTCOME]: outcome.kind,
          ...(outcome.kind === "deadLetter" ? { [ATTR.KEYLESS_DEAD_LETTER_REASON]: outcome.reason } : {}),
        };
        workerMetrics.messages().add(1, labels);
        workerMetrics.processingDuration().record(Date.now() - d.receivedAt, labels);
        this.#o.events.emit({
          type: "delivery.settled",
          entity: entity.path,
          messageId: info.messageId,
          subject: info.subject,
          deliveryCount: info.deliveryCount,
          outcome,
          settled: settlePath === "link" || settlePath === "management",
          settlePath,
          durationMs: Date.now() - d.receivedAt,
          traceId,
        });
        return settlePath;
      },
    );
  }
}

/** One message's way through the dispatcher: what it is, where it goes, and what keeps it. */
interface Delivery {
  readonly record: CustodyRecord;
  readonly message: ServiceBusReceivedMessage;
  readonly receiver: ServiceBusReceiver;
  readonly entity: EntityRef;
  readonly route: Route;
  readonly info: MessageInfo;
  readonly lock: LockKeeper;
  readonly log: Logger;
  readonly receivedAt: number;
  readonly signals: DeliverySignals;
  readonly session: HandlerSession | undefined;
}

/** What a session's message brings along (session-loop.ts): the session's lock and what its handler may know. */
export interface SessionDelivery {
  /** The session lock seen from this message: lost aborts its handler; `stop` ends this message's renewal limit. */
  readonly lock: LockKeeper;
  readonly context: HandlerSession;
}

function queueFor(api: ApiConfig): PQueue {
  return new PQueue({
    concurrency: api.concurrency ?? Number.POSITIVE_INFINITY,
    ...(api.rateLimit ? { intervalCap: api.rateLimit.cap, interval: api.rateLimit.intervalMs } : {}),
  });
}
