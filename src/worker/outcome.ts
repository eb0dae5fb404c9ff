import { SpanStatusCode } from "@opentelemetry/api";

import {
  HandlerRejectedError,
  HandlerTimeoutError,
  type DeadLetterReason,
  PermanentError,
  TransientError,
} from "./errors.ts";
import { excerpt, redactSecrets } from "../shared/redact.ts";

/**
 * The outcome policy: how one delivery ends, decided here and only here — from the failure classes of
 * src/shared/failure.ts and the worker's own states (stopping, lock lost, attempts and deliveries used up). Handlers,
 * the API client and the identity layer only throw; the dispatcher and delivery ask this module what that means.
 */
export type Outcome =
  | { readonly kind: "complete" }
  | {
      readonly kind: "abandon";
      readonly why: string;
      readonly properties: Readonly<Record<string, string | number>>;
    }
  | {
      readonly kind: "deadLetter";
      readonly reason: DeadLetterReason;
      readonly description: string;
      readonly properties: Readonly<Record<string, string | number>>;
    }
  /** The lock is gone: the broker redelivers on its own and any settlement would fail. */
  | { readonly kind: "lockLost"; readonly why: string };

export type FailureClass =
  | {
      readonly kind: "permanent";
      readonly reason: DeadLetterReason;
      readonly message: string;
      readonly handlerReason?: string;
    }
  | {
      readonly kind: "transient";
      readonly message: string;
      readonly retryAfterMs?: number;
      readonly status?: number;
    };

/**
 * Sorts a failure into permanent (dead-letter) or transient (retry, then abandon), by class alone. Errors we do not
 * know are transient: a bug that throws may be fixed by a deployment, and Service Bus's MaxDeliveryCount still
 * bounds it.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof PermanentError) {
    return {
      kind: "permanent",
      reason: error.deadLetterReason,
      message: error.message,
      ...(error instanceof HandlerRejectedError ? { handlerReason: error.handlerReason } : {}),
    };
  }
  if (error instanceof TransientError) {
    return {
      kind: "transient",
      message: error.message,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: "transient", message };
}

/** Turns a DOMException TimeoutError from AbortSignal.timeout into our named error. */
export function normaliseAbortReason(reason: unknown, timeoutMs: number): unknown {
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HandlerTimeoutError(`handler did not finish within ${timeoutMs} ms`);
  }
  return reason;
}

/** What is known about a delivery when its outcome is decided: for descriptions people can act on. */
export interface DeliveryFacts {
  /** Attempts made in this delivery (0 when it failed before the first one). */
  readonly attempts: number;
  /** Service Bus's count of earlier deliveries. */
  readonly deliveryCount: number;
  readonly lastStatus?: number | undefined;
  readonly traceId?: string | undefined;
}

export const complete: Outcome = { kind: "complete" };

/** The worker is stopping: hand the message back at once for another replica (`when` says at which point). */
export function stopping(when: string, properties: Record<string, string | number> = {}): Outcome {
  return {
    kind: "abandon",
    why: `worker stopping ${when}`,
    properties: { ...properties, "keyless-abandoned-by": "shutdown" },
  };
}

export function lockLost(why: string): Outcome {
  return { kind: "lockLost", why: excerpt(why) };
}

/** A permanent failure: dead-letter with its reason and a description naming what was tried. */
export function deadLetter(
  failure: Extract<FailureClass, { kind: "permanent" }>,
  facts: DeliveryFacts,
): Outcome {
  return deadLetterWith(failure.reason, failure.message, facts, failure.handlerReason);
}

/**
 * A transient failure after the attempts of this delivery are used up: abandoned for redelivery, or, on the last
 * delivery WORKER_MAX_DELIVERIES allows, dead-lettered as RetriesExhausted with the worker's own description.
 */
export function attemptsUsedUp(
  failure: Extract<FailureClass, { kind: "transient" }>,
  facts: DeliveryFacts,
  maxDeliveries: number | undefined,
): Outcome {
  if (maxDeliveries !== undefined && facts.deliveryCount + 1 >= maxDeliveries) {
    return deadLetterWith(
      "RetriesExhausted",
      `Still failing after ${facts.deliveryCount + 1} deliveries: ${failure.message}`,
      facts,
    );
  }
  return {
    kind: "abandon",
    why: failure.message,
    properties: {
      "keyless-last-error": excerpt(failure.message, 200),
      "keyless-attempts": facts.attempts,
      ...(facts.lastStatus !== undefined ? { "keyless-last-status": facts.lastStatus } : {}),
    },
  };
}

/** The process span's status for an outcome: an error only where something went wrong that was not the message's. */
export function spanStatusOf(outcome: Outcome): { code: SpanStatusCode; message: string } | undefined {
  if (outcome.kind === "abandon") return { code: SpanStatusCode.ERROR, message: outcome.why };
  if (outcome.kind === "deadLetter" && outcome.reason === "RetriesExhausted") {
    return { code: SpanStatusCode.ERROR, message: outcome.description };
  }
  return undefined;
}

function deadLetterWith(
  reason: DeadLetterReason,
  message: string,
  facts: DeliveryFacts,
  handlerReason?: string,
): Outcome {
  return {
    kind: "deadLetter",
    reason,
    description: describe({ message, ...facts }),
    properties: {
      "keyless-attempts": facts.attempts,
      ...(facts.lastStatus !== undefined ? { "keyless-last-status": facts.lastStatus } : {}),
      ...(facts.traceId ? { "keyless-trace-id": facts.traceId } : {}),
      ...(handlerReason !== undefined ? { "keyless-handler-reason": excerpt(handlerReason, 100) } : {}),
    },
  };
}

/** Dead-letter descriptions are read by people; Service Bus caps the field, so keep them short. */
export function describe(parts: {
  message: string;
  attempts: number;
  deliveryCount: number;
  lastStatus?: number | undefined;
  traceId?: string | undefined;
}): string {
  const facts = [
    `attempts in this delivery: ${parts.attempts}`,
    `delivery ${parts.deliveryCount + 1}`,
    ...(parts.lastStatus !== undefined ? [`last HTTP status: ${parts.lastStatus}`] : []),
    ...(parts.traceId ? [`trace id: ${parts.traceId}`] : []),
  ];
  // Line breaks stay (people read these in keyless dlq and the portal); other white space is folded.
  const text = redactSecrets(`${parts.message} (${facts.join("; ")})`)
    .replace(/[^\S\n]+/g, " ")
    .replace(/ *\n */g, "\n")
    .trim();
  return text.length > 1024 ? `${text.slice(0, 1024)}…` : text;
}
