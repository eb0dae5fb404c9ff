import type { ServiceBusReceivedMessage } from "@azure/service-bus";
import { trace } from "@opentelemetry/api";
import type { Logger } from "pino";

import { linkedAbort } from "../shared/linked-abort.ts";
import { ATTR } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { createApiClient, type RoleTokenSource } from "./api-client.ts";
import { retryDelayMs, sleep } from "./backoff.ts";
import type { ApiConfig, WorkerConfig } from "./config.ts";
import { InvalidBodyError, LockLostError, NoHandlerError } from "./errors.ts";
import type { Handler, HandlerMap, HandlerSession, MessageInfo } from "./handler.ts";
import {
  attemptsUsedUp,
  classifyFailure,
  complete,
  deadLetter,
  type DeliveryFacts,
  lockLost,
  normaliseAbortReason,
  type Outcome,
  stopping,
} from "./outcome.ts";
import { isTokenUnavailable, type TokenHealth } from "./token-health.ts";
import { excerpt } from "../shared/redact.ts";

/** The parts of a received message a delivery uses. */
export type ReceivedMessage = Pick<
  ServiceBusReceivedMessage,
  | "body"
  | "messageId"
  | "subject"
  | "deliveryCount"
  | "enqueuedTimeUtc"
  | "correlationId"
  | "applicationProperties"
  | "sessionId"
>;

export interface DeliverySignals {
  /** Stop was requested: no new in-process retries, abandon instead. */
  readonly draining: AbortSignal;
  /** The shutdown grace period is over: abort the handler now. */
  readonly abortNow: AbortSignal;
  /** The message lock could not be renewed. */
  readonly lockLost: AbortSignal;
}

export interface DeliveryDeps {
  readonly handlers: HandlerMap;
  readonly apis: Readonly<Record<string, ApiConfig>>;
  readonly tokens: RoleTokenSource;
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  /** Told when an API gives no token, so the worker waits for it instead of spending attempts. */
  readonly tokenHealth?: TokenHealth;
  /** Told of each in-process retry: the attempt that failed, the wait, and why (redacted). */
  readonly onRetry?: (attempt: number, delayMs: number, reason: string) => void;
  /** The message's session, for a session entity's message (ctx.session). */
  readonly session?: HandlerSession | undefined;
}

/**
 * An attempt met no token for the handler's API (the identity endpoint is down or hanging). Not an outcome: the
 * dispatcher waits for the token source and runs attempt `attempt` again, so an outage spends no attempts.
 */
export interface TokensUnavailable {
  readonly kind: "tokensUnavailable";
  readonly api: string;
  readonly attempt: number;
}

/** The subject a message is routed by: its subject, or the application property `type` when it has none. */
export function subjectOf(message: ReceivedMessage): string | undefined {
  const type = message.applicationProperties?.type;
  return message.subject ?? (typeof type === "string" ? type : undefined);
}

/** Where a message goes: decided once, on receipt, and carried to the end. */
export interface Route {
  readonly subject: string | undefined;
  /** Undefined when no handler serves the subject: the message is dead-lettered as NoHandler. */
  readonly handler: Handler | undefined;
}

export function routeOf(message: ReceivedMessage, handlers: HandlerMap): Route {
  const subject = subjectOf(message);
  return { subject, handler: subject === undefined ? undefined : handlers[subject] };
}

/** What a handler may know about a message, built once per delivery. */
export function messageInfo(
  message: ReceivedMessage,
  subject: string | undefined,
  entity: string,
): MessageInfo {
  return {
    messageId: String(message.messageId ?? ""),
    subject,
    deliveryCount: message.deliveryCount ?? 0,
    enqueuedTime: message.enqueuedTimeUtc,
    correlationId: message.correlationId === undefined ? undefined : String(message.correlationId),
    applicationProperties: message.applicationProperties ?? {},
    entity,
    sessionId: message.sessionId,
  };
}

/** Parses and validates the body against the handler's schema, naming every problem without echoing values. */
export function parseBody(message: ReceivedMessage, handler: Handler): unknown {
  let body: unknown = message.body;
  if (Buffer.isBuffer(body)) {
    const bytes = body;
    try {
      body = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw new InvalidBodyError(
        `The body is not JSON (${bytes.length} bytes). Handler '${handler.subject}' expects a JSON object.`,
      );
    }
  } else if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // A plain string body; let the schema judge it.
    }
  }
  const parsed = handler.schema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
      .join("; ");
    throw new InvalidBodyError(`The body does not match handler '${handler.subject}': ${issues}`);
  }
  return parsed.data;
}

/**
 * Runs one delivery of one message to the end: body validation, then up to WORKER_MAX_ATTEMPTS attempts with backoff
 * while transient failures last. Returns the outcome (decided by outcome.ts); settling it is the caller's job.
 *
 * How in-process attempts and Service Bus deliveries combine: a delivery makes at most `maxAttempts` attempts and
 * is then abandoned, so the broker redelivers (delivery count + 1) until its MaxDeliveryCount dead-letters the
 * message. A handler therefore runs at most maxAttempts × MaxDeliveryCount times. With WORKER_MAX_DELIVERIES set to
 * the entity's MaxDeliveryCount, the last delivery dead-letters itself (RetriesExhausted) with a useful description.
 */
export async function runDelivery(
  message: ReceivedMessage,
  route: Route,
  info: MessageInfo,
  deps: DeliveryDeps,
  signals: DeliverySignals,
  fromAttempt = 1,
): Promise<Outcome | TokensUnavailable> {
  const { config } = deps;
  const spanContext = trace.getActiveSpan()?.spanContext();
  const traceId = spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
  const facts = (attempts: number, lastStatus?: number): DeliveryFacts => ({
    attempts,
    deliveryCount: info.deliveryCount,
    lastStatus,
    traceId,
  });
  const baseLog = deps.log; // already bound to the message by the dispatcher

  const { handler } = route;
  if (!handler) {
    const { message: why } = new NoHandlerError(route.subject, Object.keys(deps.handlers));
    return deadLetter({ kind: "permanent", reason: "NoHandler", message: why }, facts(0));
  }
  trace.getActiveSpan()?.setAttribute(ATTR.KEYLESS_HANDLER, handler.subject);
  let body: unknown;
  try {
    body = parseBody(message, handler);
  } catch (error) {
    const failure = classifyFailure(error);
    if (failure.kind === "permanent") return deadLetter(failure, facts(0));
    return attemptsUsedUp(failure, facts(0), undefined);
  }
  // The worker refuses to start when a handler's API is not configured, so this is always there.
  const api = deps.apis[handler.api.toLowerCase()]!;

  let lastStatus: number | undefined;
  for (let attempt = fromAttempt; ; attempt += 1) {
    const log = baseLog.child({ attempt });
    // One controller per attempt, its timer and listeners gone when the attempt ends (nothing outlives the delivery).
    const linked = linkedAbort([signals.lockLost, signals.abortNow], {
      ms: config.handlerTimeoutMs,
      what: "handler",
    });
    const { signal } = linked;
    const ctx = {
      body,
      message: info,
      api: createApiClient({
        api,
        roles: handler.roles,
        tokens: deps.tokens,
        idempotencyKey: info.messageId,
        signal,
        timeoutMs: config.apiTimeoutMs,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      }),
      signal,
      log,
      attempt,
      session: deps.session,
    };
    try {
      await linked.race(handler.handle(ctx));
      linked.dispose();
      return complete;
    } catch (thrown) {
      linked.dispose();
      const error = signal.aborted ? normaliseAbortReason(signal.reason, config.handlerTimeoutMs) : thrown;
      if (signals.lockLost.aborted) return lockLost(String((signals.lockLost.reason as Error)?.message));
      if (signals.abortNow.aborted) return stopping("after the shutdown grace period");
      if (deps.tokenHealth && isTokenUnavailable(error)) {
        deps.tokenHealth.failed(api.name, error);
        log.warn({ err: excerpt(String((error as Error).message)) }, "no token for the API: waiting for it");
        return { kind: "tokensUnavailable", api: api.name, attempt };
      }
      const failure = classifyFailure(error);
      if (failure.kind === "permanent") return deadLetter(failure, facts(attempt, lastStatus));
      lastStatus = failure.status ?? lastStatus;
      if (attempt >= config.maxAttempts || signals.draining.aborted) {
        const outcome = attemptsUsedUp(failure, facts(attempt, lastStatus), config.maxDeliveries);
        if (outcome.kind === "abandon")
          log.warn(
            { err: excerpt(failure.message) },
            "transient failure, attempts used up: abandoning for redelivery",
          );
        return outcome;
      }
      const delayMs = retryDelayMs(attempt, {
        baseMs: config.backoffBaseMs,
        maxMs: config.backoffMaxMs,
        retryAfterMs: failure.retryAfterMs,
      });
      trace.getActiveSpan()?.addEvent("retry", {
        [ATTR.KEYLESS_ATTEMPT]: attempt,
        [ATTR.KEYLESS_RETRY_DELAY_MS]: delayMs,
        [ATTR.KEYLESS_RETRY_REASON]: excerpt(failure.message, 200),
        ...(failure.status !== undefined ? { [ATTR.HTTP_STATUS]: failure.status } : {}),
      });
      workerMetrics.retries().add(1, { [ATTR.KEYLESS_HANDLER]: handler.subject });
      log.info({ delayMs, reason: excerpt(failure.message, 200) }, "transient failure, retrying");
      deps.onRetry?.(attempt, delayMs, excerpt(failure.message, 200));
      const wait = linkedAbort([signals.draining, signals.lockLost, signals.abortNow]);
      try {
        await sleep(delayMs, wait.signal);
      } catch {
        if (signals.lockLost.aborted) return lockLost("lock lost while waiting to retry");
        return stopping("while waiting to retry", { "keyless-attempts": attempt });
      } finally {
        wait.dispose();
      }
    }
  }
}

export { LockLostError };
