import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";
import { ROOT_CONTEXT, SpanStatusCode, trace } from "@opentelemetry/api";
import PQueue from "p-queue";
import type { Logger } from "pino";

import { ATTR, SERVICEBUS_SYSTEM } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { producerContext } from "../telemetry/message-context.ts";
import { SpanKind, withSpan } from "../telemetry/span.ts";
import type { RoleTokenSource } from "./api-client.ts";
import type { ApiConfig, EntityRef, WorkerConfig } from "./config.ts";
import { type DeliverySignals, runDelivery, subjectOf } from "./delivery.ts";
import type { HandlerMap } from "./handler.ts";
import { keepLockRenewed } from "./lock-renewal.ts";
import type { Outcome } from "./outcome.ts";
import { settle } from "./settle.ts";

export interface DispatcherOptions {
  readonly config: WorkerConfig;
  readonly handlers: HandlerMap;
  readonly tokens: RoleTokenSource;
  readonly log: Logger;
  readonly draining: AbortSignal;
  readonly abortNow: AbortSignal;
  readonly fetch?: typeof fetch;
  /** Told of every settled delivery (for the dev UI, tests and metrics). */
  readonly onOutcome?: (event: OutcomeEvent) => void;
}

export interface OutcomeEvent {
  readonly entity: string;
  readonly messageId: string;
  readonly subject: string | undefined;
  readonly deliveryCount: number;
  readonly outcome: Outcome;
  readonly settled: boolean;
  readonly durationMs: number;
  readonly traceId: string | undefined;
}

/**
 * Takes received messages and runs them through p-queue: one global queue bounds concurrency, optional per-API
 * queues bound one API's concurrency and call rate. It counts the messages it holds (received, not yet settled) so
 * the receive loop never takes more than it can start soon.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #global: PQueue;
  readonly #perApi = new Map<string, PQueue>();
  readonly #waiting = new Set<{ cancel(): void }>();
  #held = 0;
  #roomWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#global = new PQueue({ concurrency: options.config.concurrency });
    for (const api of Object.values(options.config.apis)) {
      if (api.concurrency !== undefined || api.rateLimit !== undefined) {
        this.#perApi.set(api.name, queueFor(api));
      }
    }
  }

  /** Messages received and not yet settled. */
  get held(): number {
    return this.#held;
  }

  /** Handlers running right now. */
  get running(): number {
    return this.#global.pending;
  }

  /** Resolves when fewer than `budget` messages are held (or the signal aborts). */
  waitForRoom(budget: number, signal: AbortSignal): Promise<void> {
    if (this.#held < budget || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      this.#roomWaiters.push(done);
    });
  }

  /** Resolves when every held message is settled. */
  idle(): Promise<void> {
    if (this.#held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Abandons, without running them, the messages still waiting for a slot (on stop: prompt redelivery elsewhere). */
  cancelWaiting(): void {
    for (const entry of this.#waiting) entry.cancel();
  }

  dispatch(
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
    done?: () => void,
  ): void {
    this.#held += 1;
    workerMetrics.inFlight().add(1, { [ATTR.MESSAGING_DESTINATION]: entity.path });
    const receivedAt = Date.now();
    const log = this.#o.log.child({ entity: entity.path });
    const lock = keepLockRenewed(receiver, message, { maxRenewalMs: this.#o.config.maxLockRenewalMs, log });
    const signals: DeliverySignals = {
      draining: this.#o.draining,
      abortNow: this.#o.abortNow,
      lockLost: lock.lockLost,
    };
    let started = false;
    let cancelled = false;

    // Runs once, from the queue when a slot frees up, or at once when cancelled (stop: abandon without waiting).
    const start = async () => {
      if (started) return;
      started = true;
      this.#waiting.delete(entry);
      try {
        await this.#process(message, receiver, entity, signals, () => cancelled, receivedAt, log);
      } catch (error) {
        log.error({ err: error }, "dispatch failed unexpectedly; the message returns after its lock expires");
      } finally {
        lock.stop();
        done?.();
        workerMetrics.inFlight().add(-1, { [ATTR.MESSAGING_DESTINATION]: entity.path });
        this.#held -= 1;
        this.#roomWaiters.splice(0).forEach((wake) => wake());
        if (this.#held === 0) this.#idleWaiters.splice(0).forEach((wake) => wake());
      }
    };
    const entry = {
      cancel: () => {
        cancelled = true;
        void start();
      },
    };
    this.#waiting.add(entry);
    if (this.#o.draining.aborted) {
      entry.cancel(); // received while stopping: hand it back at once
      return;
    }

    const apiName = this.#apiOf(message);
    const apiQueue = apiName === undefined ? undefined : this.#perApi.get(apiName);
    void (apiQueue ? apiQueue.add(() => this.#global.add(start)) : this.#global.add(start));
  }

  #apiOf(message: ServiceBusReceivedMessage): string | undefined {
    const subject = subjectOf(message);
    const handler = subject === undefined ? undefined : this.#o.handlers[subject];
    return handler?.api.toLowerCase();
  }

  async #process(
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    entity: EntityRef,
    signals: DeliverySignals,
    isCancelled: () => boolean,
    receivedAt: number,
    log: Logger,
  ): Promise<void> {
    const producer = producerContext(message.applicationProperties);
    const producerSpan = producer ? trace.getSpanContext(producer) : undefined;
    await withSpan(
      `process ${entity.path}`,
      {
        kind: SpanKind.CONSUMER,
        // The producer's context is the parent so that one message reads as one trace; it is also a link, as
        // the messaging conventions recommend for consumers. Never inherit an ambient parent.
        parent: producer ?? ROOT_CONTEXT,
        links: producerSpan ? [{ context: producerSpan }] : [],
        attributes: {
          [ATTR.MESSAGING_SYSTEM]: SERVICEBUS_SYSTEM,
          [ATTR.MESSAGING_OPERATION_TYPE]: "process",
          [ATTR.MESSAGING_OPERATION_NAME]: "process",
          [ATTR.MESSAGING_DESTINATION]: entity.kind === "queue" ? entity.queue : entity.topic,
          ...(entity.kind === "subscription" ? { [ATTR.MESSAGING_SUBSCRIPTION]: entity.subscription } : {}),
          [ATTR.MESSAGING_MESSAGE_ID]: String(message.messageId ?? ""),
          ...(message.correlationId !== undefined
            ? { [ATTR.MESSAGING_CONVERSATION_ID]: String(message.correlationId) }
            : {}),
          [ATTR.SERVICEBUS_DELIVERY_COUNT]: message.deliveryCount ?? 0,
          ...(message.enqueuedTimeUtc
            ? { [ATTR.SERVICEBUS_ENQUEUED_TIME]: Math.floor(message.enqueuedTimeUtc.getTime() / 1000) }
            : {}),
        },
      },
      async (span) => {
        const traceId = trace.isSpanContextValid(span.spanContext()) ? span.spanContext().traceId : undefined;
        const messageLog = log.child({
          messageId: String(message.messageId ?? ""),
          subject: subjectOf(message),
          deliveryCount: message.deliveryCount ?? 0,
        });
        const outcome: Outcome =
          isCancelled() || signals.abortNow.aborted
            ? {
                kind: "abandon",
                why: "worker stopping before the message started",
                properties: { "keyless-abandoned-by": "shutdown" },
              }
            : await runDelivery(
                message,
                entity.path,
                {
                  handlers: this.#o.handlers,
                  apis: this.#o.config.apis,
                  tokens: this.#o.tokens,
                  config: this.#o.config,
                  log: messageLog,
                  ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
                },
                signals,
              );
        span.setAttribute(ATTR.KEYLESS_OUTCOME, outcome.kind);
        if (outcome.kind === "deadLetter") span.setAttribute(ATTR.KEYLESS_DEAD_LETTER_REASON, outcome.reason);
        if (
          outcome.kind === "abandon" ||
          (outcome.kind === "deadLetter" && outcome.reason === "RetriesExhausted")
        ) {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: outcome.kind === "abandon" ? outcome.why : outcome.description,
          });
        }
        const settled = await settle(receiver, message, outcome, entity.path, messageLog);
        const labels = {
          [ATTR.MESSAGING_DESTINATION]: entity.path,
          [ATTR.KEYLESS_OUTCOME]: outcome.kind,
          ...(outcome.kind === "deadLetter" ? { [ATTR.KEYLESS_DEAD_LETTER_REASON]: outcome.reason } : {}),
        };
        workerMetrics.messages().add(1, labels);
        workerMetrics.processingDuration().record(Date.now() - receivedAt, labels);
        this.#o.onOutcome?.({
          entity: entity.path,
          messageId: String(message.messageId ?? ""),
          subject: subjectOf(message),
          deliveryCount: message.deliveryCount ?? 0,
          outcome,
          settled,
          durationMs: Date.now() - receivedAt,
          traceId,
        });
      },
    );
  }
}

function queueFor(api: ApiConfig): PQueue {
  return new PQueue({
    concurrency: api.concurrency ?? Number.POSITIVE_INFINITY,
    ...(api.rateLimit ? { intervalCap: api.rateLimit.cap, interval: api.rateLimit.intervalMs } : {}),
  });
}
